using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet.Inference;

/// <summary>Owns one <c>bn_model*</c>. Every <see cref="ContextHandle"/> holds a reference on it, so
/// <c>bn_model_destroy</c> (refused while contexts are alive) runs only after the last context is destroyed.</summary>
internal sealed class ModelHandle : SafeHandle
{
    private ModelHandle(nint model) : base(0, ownsHandle: true) => SetHandle(model);

    public static unsafe ModelHandle Create(in BnModelConfig config)
    {
        NativeVersion.EnsureCompatible();
        BnModel model;
        BnModelConfig c = config;
        BnStatus status = NativeMethods.bn_model_create(&c, &model);
        if (status != BnStatus.Ok) throw BitNetException.FromLastError(status);
        return new ModelHandle(model.Handle);
    }

    public override bool IsInvalid => handle == 0;

    public BnModel Native => new(handle);

    protected override bool ReleaseHandle() => NativeMethods.bn_model_destroy(new BnModel(handle)) == BnStatus.Ok;
}
