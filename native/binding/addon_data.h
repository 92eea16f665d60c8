// Per-addon-instance state (one per Node environment / worker thread): constructors of the
// wrapper classes, so native code can create JS Tensors for its results, and the library's error classes.
#pragma once

#include <napi.h>

namespace sgdr {

struct AddonData {
  Napi::FunctionReference tensor_constructor;
  Napi::FunctionReference model_constructor;
  Napi::FunctionReference optimizer_constructor;
  Napi::FunctionReference dataset_constructor;
  Napi::FunctionReference data_loader_constructor;
  Napi::FunctionReference process_group_constructor;
  // The library's error classes (lib/errors.ts), registered at load by setErrorClasses(), so native
  // code throws errors that users can test with instanceof.
  Napi::FunctionReference disposed_error_constructor;
};

inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace sgdr
