using BenchmarkDotNet.Attributes;
using BitNet.Quantization;

namespace BitNet.Benchmarks;

/// <summary>
/// ActivationQuantizer (per-token absmax to int8, bn_quantize_act_i8) on Rows x 2560 activations through the span
/// overload into preallocated buffers: codes and scales only, and with the per-row code sums that bn_tmatmul_i8 needs
/// (computed in managed code by the wrapper).
/// </summary>
public class QuantBenchmarks
{
    private const int Cols = 2560;
    private float[] _x = null!, _scales = null!;
    private sbyte[] _codes = null!;
    private int[] _sums = null!;

    [Params(1, 128)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1234);
        _x = new float[Rows * Cols];
        for (int i = 0; i < _x.Length; i++) _x[i] = (float)(rng.NextDouble() * 2 - 1);
        _codes = new sbyte[Rows * Cols];
        _scales = new float[Rows];
        _sums = new int[Rows];
    }

    [Benchmark(Baseline = true)]
    public void Activation() => ActivationQuantizer.Quantize(_x, Rows, Cols, _codes, _scales);

    [Benchmark]
    public void Activation_WithSums() => ActivationQuantizer.Quantize(_x, Rows, Cols, _codes, _scales, _sums);
}

/// <summary>TernaryQuantizer (absmean, one scale per tensor) on a 2560 x 2560 weight matrix, span overload into
/// preallocated buffers.</summary>
public class TernaryQuantBenchmarks
{
    private const int Rows = 2560, Cols = 2560;
    private float[] _w = null!, _scales = null!;
    private sbyte[] _codes = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(1234);
        _w = new float[Rows * Cols];
        for (int i = 0; i < _w.Length; i++) _w[i] = (float)((rng.NextDouble() * 2 - 1) * 0.05);
        _codes = new sbyte[Rows * Cols];
        _scales = new float[(int)Granularity.PerTensor.ScaleCount(Rows, Cols)];
    }

    [Benchmark]
    public void Ternary_PerTensor_2560x2560() =>
        TernaryQuantizer.Quantize(_w, Rows, Cols, Granularity.PerTensor, _codes, _scales);
}
