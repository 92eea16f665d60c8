// Checked conversions of numbers that arrive as doubles (from JS, or from a file) to integers.
#pragma once

#include <cmath>

namespace sgdr {

// Whether v is an integer in [lo, hi]. Checked before every cast of such a number to an integer
// type: the cast of a double outside the type's range (or of NaN) is undefined behaviour, which on
// x86 quietly gives INT64_MIN, and UBSan's float-cast-overflow aborts on it.
inline bool IsIntegerIn(double v, double lo, double hi) { return v >= lo && v <= hi && v == std::floor(v); }
// 2^53: up to here every integer is a double; the bound for counts, indices, epochs and sizes.
constexpr double kMaxExactInteger = 9007199254740992.0;
// 2^64 - 2048, the largest double below 2^64: the bound for 64-bit seeds.
constexpr double kMaxSeed = 18446744073709549568.0;

}  // namespace sgdr
