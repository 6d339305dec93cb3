using System.Runtime.InteropServices;
using BitNet.Interop;

namespace BitNet.Quantization;

/// <summary>Owns one <c>bn_calibrator*</c>; <c>bn_calibrator_destroy</c> frees its histogram.</summary>
internal sealed class CalibratorHandle : SafeHandle
{
    private CalibratorHandle(nint calibrator) : base(0, ownsHandle: true) => SetHandle(calibrator);

    /// <summary>n_bins: a power of two in 64..1048576, or 0 for the default.</summary>
    public static unsafe CalibratorHandle Create(int bins)
    {
        NativeVersion.EnsureCompatible();
        BnCalibrator c;
        BitNetException.Check(NativeMethods.bn_calibrator_create(bins, &c));
        return new CalibratorHandle(c.Handle);
    }

    public override bool IsInvalid => handle == 0;

    public BnCalibrator Native => new(handle);

    protected override bool ReleaseHandle() => NativeMethods.bn_calibrator_destroy(new BnCalibrator(handle)) == BnStatus.Ok;
}
