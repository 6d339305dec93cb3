using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet.Training;

/// <summary>Owns one <c>bn_trainer*</c> and a reference on the thread pool it runs on (which must outlive it); the
/// reference is released after <c>bn_trainer_destroy</c>.</summary>
internal sealed class TrainerHandle : SafeHandle
{
    private readonly SafeHandle? _threads;

    private TrainerHandle(nint trainer, SafeHandle? threads) : base(0, ownsHandle: true)
    {
        SetHandle(trainer);
        _threads = threads;
    }

    /// <summary>Creates a trainer on the process-wide memory pool; <paramref name="threads"/> may be null (the calling
    /// thread only).</summary>
    public static unsafe TrainerHandle Create(in BnModelConfig config, long batch, long seqLen, SafeHandle? threads)
    {
        NativeVersion.EnsureCompatible();
        bool added = false;
        threads?.DangerousAddRef(ref added);
        try
        {
            BnModelConfig c = config;
            BnTrainer trainer;
            var pool = new BnThreadpool(threads is null ? 0 : threads.DangerousGetHandle());
            BnStatus status = NativeMethods.bn_trainer_create(&c, batch, seqLen, new BnPool(0), pool, &trainer);
            if (status != BnStatus.Ok) throw BitNetException.FromLastError(status);
            return new TrainerHandle(trainer.Handle, threads);
        }
        catch
        {
            if (added) threads!.DangerousRelease();
            throw;
        }
    }

    public override bool IsInvalid => handle == 0;

    public BnTrainer Native => new(handle);

    protected override bool ReleaseHandle()
    {
        bool ok = NativeMethods.bn_trainer_destroy(new BnTrainer(handle)) == BnStatus.Ok;
        _threads?.DangerousRelease();
        return ok;
    }
}
