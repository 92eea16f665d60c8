// JS wrappers of the data layer: NativeDataset (an opened Dataset) and NativeDataLoader (a
// BatchLoader). The helpers let other wrappers (the trainer) read the same spec objects and take the
// dataset behind a NativeDataset.
#pragma once

#include <napi.h>

#include <memory>

#include "data/datasets.h"

namespace sgdr {

// Reads { kind, root?, split?, limit?, augment?, hflip?, pad?, imageSize?, resize?, mean?, std? };
// TypeError/RangeError naming the bad field.
DataSpec DataSpecFromObject(const Napi::Object& spec);

// The dataset behind a live JS NativeDataset; TypeError naming `what` otherwise.
std::shared_ptr<Dataset> DatasetFromValue(Napi::Value value, const char* what);

Napi::Function InitDataset(Napi::Env env);
Napi::Function InitDataLoader(Napi::Env env);

}  // namespace sgdr
