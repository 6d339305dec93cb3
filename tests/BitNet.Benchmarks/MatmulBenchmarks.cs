using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using BitNet.Interop;

namespace BitNet.Benchmarks;

/// <summary>
/// Ternary matmul through the raw P/Invoke on the bitnet-b1.58-2B4T projection shapes (M x K: q/o 2560x2560, k/v
/// 640x2560, gate/up 6912x2560, down 2560x6912), with the dispatched kernels: GEMV (T = 1) on int8 activations, the fused
/// f32 GEMV (quantize + matmul, bn_tmatmul_f32) and GEMM (T = 128) on int8 activations. Threads is the size of the
/// NativeThreadPool the call runs on (1 = the calling thread alone). Weights are random ternary codes packed once, and the
/// activations, their codes, sums and scales are prepared in GlobalSetup, so an operation is one call.
/// </summary>
public class MatmulBenchmarks : MatmulBenchmarkBase
{
    [Benchmark]
    public void Gemv_i8() => MatmulI8(1);

    [Benchmark]
    public void Gemv_f32() => MatmulF32(1);

    [Benchmark]
    public void Gemm_i8_T128() => MatmulI8(GemmTokens);
}

/// <summary>The GEMVs of <see cref="MatmulBenchmarks"/> with dispatch restricted to the scalar kernels
/// (bn_cpu_set_enabled(0) in GlobalSetup, everything enabled again in GlobalCleanup).</summary>
public class MatmulScalarBenchmarks : MatmulBenchmarkBase
{
    protected override bool Scalar => true;

    [Benchmark]
    public void Gemv_i8_Scalar() => MatmulI8(1);

    [Benchmark]
    public void Gemv_f32_Scalar() => MatmulF32(1);
}

public abstract unsafe class MatmulBenchmarkBase
{
    protected const int GemmTokens = 128;

    private NativeThreadPool _threads = null!;
    private byte* _w;
    private sbyte* _q;
    private float* _a, _x, _y;
    private int* _qSum;
    private void* _work;
    private nuint _workSize;
    private long _m, _k;
    private const float WScale = 0.73f;

    /// <summary>M x K of the weight matrix.</summary>
    [Params("2560x2560", "640x2560", "6912x2560", "2560x6912")]
    public string Shape { get; set; } = "2560x2560";

    [Params(1, 2)]
    public int Threads { get; set; }

    protected virtual bool Scalar => false;

    [GlobalSetup]
    public void Setup()
    {
        string[] mk = Shape.Split('x');
        _m = long.Parse(mk[0]);
        _k = long.Parse(mk[1]);
        var rng = new Random(1234);

        // Random ternary weights (-1, 0, +1 equally likely), packed once.
        nuint packed;
        Check(NativeMethods.bn_tmatmul_packed_size(BnTlayout.I2s, _m, _k, &packed));
        var codes = new sbyte[_m * _k];
        for (long i = 0; i < codes.LongLength; i++) codes[i] = (sbyte)(rng.Next(3) - 1);
        _w = (byte*)Alloc(packed);
        fixed (sbyte* c = codes) Check(NativeMethods.bn_tmatmul_pack_i8(BnTlayout.I2s, c, _m, _k, _w, packed));

        // GemmTokens tokens of activations: floats for the fused path, their int8 codes, scales and sums for the i8 path.
        long n = GemmTokens * _k;
        _x = (float*)Alloc((nuint)(n * sizeof(float)));
        for (long i = 0; i < n; i++) _x[i] = (float)(rng.NextDouble() * 2 - 1);
        _q = (sbyte*)Alloc((nuint)n);
        _a = (float*)Alloc(GemmTokens * sizeof(float));
        _qSum = (int*)Alloc(GemmTokens * sizeof(int));
        Quantization.ActivationQuantizer.Quantize(new ReadOnlySpan<float>(_x, (int)n), GemmTokens, (int)_k,
            new Span<sbyte>(_q, (int)n), new Span<float>(_a, GemmTokens), new Span<int>(_qSum, GemmTokens));
        _y = (float*)Alloc((nuint)(GemmTokens * _m * sizeof(float)));
        nuint workSize;
        Check(NativeMethods.bn_tmatmul_f32_work_size(1, _k, &workSize));
        _workSize = workSize;
        _work = Alloc(_workSize == 0 ? 64 : _workSize);

        _threads = new NativeThreadPool(Threads);
        if (Scalar) Check(NativeMethods.bn_cpu_set_enabled(0));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (Scalar) Check(NativeMethods.bn_cpu_set_enabled(ulong.MaxValue));
        _threads.Dispose();
        NativeMemory.AlignedFree(_w);
        NativeMemory.AlignedFree(_x);
        NativeMemory.AlignedFree(_q);
        NativeMemory.AlignedFree(_a);
        NativeMemory.AlignedFree(_qSum);
        NativeMemory.AlignedFree(_y);
        NativeMemory.AlignedFree(_work);
    }

    protected void MatmulI8(long tokens) =>
        Check(NativeMethods.bn_tmatmul_i8(BnTlayout.I2s, _w, _m, _k, WScale, _q, _a, _qSum, tokens, _y,
            _threads.Handle.Native));

    protected void MatmulF32(long tokens) =>
        Check(NativeMethods.bn_tmatmul_f32(BnTlayout.I2s, _w, _m, _k, WScale, _x, tokens, _y, _work, _workSize,
            _threads.Handle.Native));

    private static void* Alloc(nuint bytes) => NativeMemory.AlignedAlloc(bytes, NativeConstants.BN_POOL_ALIGNMENT);

    private static void Check(BnStatus status)
    {
        if (status != BnStatus.Ok) throw new InvalidOperationException($"native call failed: {status}");
    }
}
