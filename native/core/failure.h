// The failure types of the LibTorch-only layers (core/, data/, perf/), and how a LibTorch error
// reads without its C++ backtrace. No N-API here: the binding layer (binding/js_errors.h) turns
// each of these into the matching JS error, so a check deep in a worker thread still surfaces as a
// RangeError or TypeError that names the bad value.
#pragma once

#include <c10/util/ArrayRef.h>
#include <c10/util/Exception.h>

#include <stdexcept>
#include <string>

namespace sgdr {

// A value out of its allowed range (JS RangeError).
struct RangeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// A value of the wrong kind (JS TypeError).
struct TypeFailure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// c10::Error::what() appends a long C++ backtrace; users want the first part only.
inline std::string MessageOf(const c10::Error& e) {
  std::string msg = e.what_without_backtrace();
  // LibTorch appends "Exception raised from ... (most recent call first):" on some paths.
  auto pos = msg.find("\nException raised from");
  if (pos != std::string::npos) msg.erase(pos);
  return msg;
}

inline std::string MessageOf(const std::exception& e) { return e.what(); }

// A shape as messages print it: [2, 3, 32, 32].
inline std::string ShapeString(c10::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

}  // namespace sgdr
