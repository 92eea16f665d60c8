// NativeProcessGroup: ProcessGroup.connect(options) rendezvous off the JS thread (it waits for every
// rank), then the collectives tests and user loops need (allReduce, broadcast, barrier), each a
// Promise, since a collective waits for the other processes.
#include "binding/process_group_wrap.h"

#include "binding/addon_data.h"
#include "binding/args.h"
#include "binding/js_errors.h"
#include "binding/promise_worker.h"
#include "binding/tensor_wrap.h"

namespace sgdr {

Napi::Function ProcessGroupWrap::Init(Napi::Env env) {
  Napi::Function ctor = DefineClass(env, "NativeProcessGroup",
                                    {
                                        StaticMethod<&ProcessGroupWrap::Connect>("connect"),
                                        StaticMethod<&ProcessGroupWrap::Backends>("backends"),
                                        InstanceMethod<&ProcessGroupWrap::Rank>("rank"),
                                        InstanceMethod<&ProcessGroupWrap::WorldSize>("worldSize"),
                                        InstanceMethod<&ProcessGroupWrap::Backend>("backend"),
                                        InstanceMethod<&ProcessGroupWrap::AllReduce>("allReduce"),
                                        InstanceMethod<&ProcessGroupWrap::Broadcast>("broadcast"),
                                        InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
                                        InstanceMethod<&ProcessGroupWrap::MarkFinished>("markFinished"),
                                        InstanceMethod<&ProcessGroupWrap::Close>("close"),
                                    });
  GetAddonData(env).process_group_constructor = Napi::Persistent(ctor);
  return ctor;
}

// Made by connect() only: its one argument is the External holding the connected group.
ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw Napi::TypeError::New(info.Env(), "use NativeProcessGroup.connect(options), not new");
  group_ = *info[0].As<Napi::External<std::shared_ptr<ProcessGroup>>>().Data();
}

std::shared_ptr<ProcessGroup> ProcessGroupWrap::Get(Napi::Value value, const char* what) {
  Napi::Env env = value.Env();
  AddonData& data = GetAddonData(env);
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(data.process_group_constructor.Value()))
    ThrowType(env, std::string(what) + " must be a process group (ProcessGroup.connect / initProcessGroup)");
  auto* wrap = Napi::ObjectWrap<ProcessGroupWrap>::Unwrap(value.As<Napi::Object>());
  if (!wrap->group_) throw Napi::Error::New(env, std::string(what) + " is closed");
  return wrap->group_;
}

// connect({ rank, worldSize, masterAddr, masterPort, timeoutSeconds?, backend?, localRank? })
//   -> Promise<NativeProcessGroup>
Napi::Value ProcessGroupWrap::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  Napi::Object o = ObjectArg(info, 0, "options");
  ProcessGroupOptions p;
  p.world_size =
      IntegerIn<int>(env, NumberOption(o, "worldSize", 1), 1, 65536, "worldSize must be an integer in [1, 65536]");
  p.rank = IntegerIn<int>(env, NumberOption(o, "rank", 0), 0, p.world_size - 1,
                          "rank must be an integer in [0, worldSize - 1 = " + std::to_string(p.world_size - 1) + "]");
  p.local_rank = IntegerIn<int>(env, NumberOption(o, "localRank", 0), 0, 65535, "localRank must be an integer >= 0");
  p.master_addr = StringOption(o, "masterAddr", "127.0.0.1");
  if (p.master_addr.empty()) ThrowRange(env, "masterAddr must not be empty");
  p.master_port = IntegerIn<int>(env, NumberOption(o, "masterPort", 29500), 1, 65535,
                                 "masterPort must be an integer in [1, 65535]");
  const double timeout = NumberOption(o, "timeoutSeconds", 300);
  if (!(timeout > 0 && timeout <= 86400)) ThrowRange(env, "timeoutSeconds must be in (0, 86400]");
  p.timeout = std::chrono::milliseconds(static_cast<int64_t>(timeout * 1000));
  p.backend = StringOption(o, "backend", "gloo");
  if (p.backend != "gloo" && p.backend != "nccl")
    ThrowRange(env, "backend must be 'gloo' or 'nccl', got '" + p.backend + "'");
  auto made = std::make_shared<std::shared_ptr<ProcessGroup>>();
  return PromiseWorker::Start(
      env, [p, made] { *made = std::make_shared<ProcessGroup>(p); },
      [made](Napi::Env env) -> Napi::Value {
        auto* held = new std::shared_ptr<ProcessGroup>(*made);
        auto external = Napi::External<std::shared_ptr<ProcessGroup>>::New(
            env, held, [](Napi::Env, std::shared_ptr<ProcessGroup>* h) { delete h; });
        return GetAddonData(env).process_group_constructor.New({external});
      });
  SGDR_CATCH(env)
}

// backends() -> { gloo: boolean, nccl: boolean }: what this build compiled in.
Napi::Value ProcessGroupWrap::Backends(const Napi::CallbackInfo& info) {
  auto o = Napi::Object::New(info.Env());
  o.Set("gloo", GlooAvailable());
  o.Set("nccl", NcclAvailable());
  return o;
}

Napi::Value ProcessGroupWrap::Rank(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(Value(), "process group")->rank());
}
Napi::Value ProcessGroupWrap::WorldSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), Get(Value(), "process group")->world_size());
}
Napi::Value ProcessGroupWrap::Backend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), Get(Value(), "process group")->backend_name());
}

// allReduce(tensor) -> Promise<void>: the tensor becomes the sum over the ranks (in place).
Napi::Value ProcessGroupWrap::AllReduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  auto group = Get(Value(), "process group");
  if (info.Length() < 1) ThrowType(env, "tensor must be a Tensor");
  torch::Tensor t = TensorWrap::Get(info[0], "tensor");
  if (!t.is_contiguous()) ThrowRange(env, "allReduce needs a contiguous tensor");
  return PromiseWorker::Start(
      env,
      [group, t] {
        std::vector<torch::Tensor> one{t};
        group->AllReduceSum(one);
      },
      [](Napi::Env env) { return env.Undefined(); }, {Value(), info[0].As<Napi::Object>()});
  SGDR_CATCH(env)
}

// broadcast(tensor, root = 0) -> Promise<void>: every rank's tensor becomes root's (in place).
Napi::Value ProcessGroupWrap::Broadcast(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  auto group = Get(Value(), "process group");
  if (info.Length() < 1) ThrowType(env, "tensor must be a Tensor");
  torch::Tensor t = TensorWrap::Get(info[0], "tensor");
  if (!t.is_contiguous()) ThrowRange(env, "broadcast needs a contiguous tensor");
  const int root = info.Length() > 1 && !info[1].IsUndefined()
                       ? IntegerIn<int>(env, NumberArg(info, 1, "root"), 0, group->world_size() - 1,
                                        "root must be a rank in [0, " + std::to_string(group->world_size() - 1) + "]")
                       : 0;
  return PromiseWorker::Start(
      env,
      [group, t, root] {
        std::vector<torch::Tensor> one{t};
        group->Broadcast(one, root);
      },
      [](Napi::Env env) { return env.Undefined(); }, {Value(), info[0].As<Napi::Object>()});
  SGDR_CATCH(env)
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SGDR_TRY
  auto group = Get(Value(), "process group");
  return PromiseWorker::Start(
      env, [group] { group->Barrier(); }, [](Napi::Env env) { return env.Undefined(); }, {Value()});
  SGDR_CATCH(env)
}

// markFinished(): the job's last collective is done; rank 0 leaving is now the normal end.
Napi::Value ProcessGroupWrap::MarkFinished(const Napi::CallbackInfo& info) {
  ProcessGroup::MarkFinished();
  return info.Env().Undefined();
}

// close(): this handle lets go of the group; it is torn down when no trainer uses it any more.
Napi::Value ProcessGroupWrap::Close(const Napi::CallbackInfo& info) {
  group_.reset();
  return info.Env().Undefined();
}

}  // namespace sgdr
