using BitNet.Models;
using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

/// <summary>The quantization API against the bitnet-tiny fixture (../shared/fixtures/README.md): quantizing the float32
/// master weights as HF does and packing them gives the packed checkpoint byte for byte.</summary>
public sealed class PackedFixtureTests
{
    private SafetensorsFile _master = null!;
    private SafetensorsFile _packed = null!;

    [OneTimeSetUp]
    public void Open()
    {
        _master = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "master", "model.safetensors"));
        _packed = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed", "model.safetensors"));
    }

    [OneTimeTearDown]
    public void Close()
    {
        _master?.Dispose();
        _packed?.Dispose();
    }

    /// <summary>Every *_proj.weight of the packed file with its master weight's shape [out, in].</summary>
    private IEnumerable<(string Name, int Rows, int Cols)> Projections()
    {
        var names = _packed.Tensors.Select(t => t.Name).Where(n => n.EndsWith("_proj.weight", StringComparison.Ordinal)).ToList();
        Assert.That(names, Has.Count.EqualTo(2 * 7), "2 layers x (q, k, v, o, gate, up, down)");
        foreach (string name in names)
        {
            var shape = _master[name].Shape;
            Assert.That(_master[name].DType, Is.EqualTo(DType.F32));
            yield return (name, (int)shape[0], (int)shape[1]);
        }
    }

    [Test]
    public void QuantizingTheMasterWeightsAndPackingThemGivesThePackedCheckpoint()
    {
        foreach (var (name, rows, cols) in Projections())
        {
            float[] w = _master.ReadSingles(name);
            using var t = TernaryQuantizer.Quantize(w, rows, cols, Granularity.PerTensor);
            using var packed = t.Pack(PackedFormat.Hf2B4T);
            var expected = _packed.GetBytes(name);
            Assert.That(packed.Length, Is.EqualTo(expected.Length), name);
            int firstDiff = packed.Span.CommonPrefixLength(expected);
            Assert.That(firstDiff, Is.EqualTo(expected.Length), $"{name}: bytes differ from byte {firstDiff}");

            var scale = _packed[name + "_scale"];
            Assert.That(scale.DType, Is.EqualTo(DType.BF16));
            ushort stored = BitConverter.ToUInt16(_packed.GetBytes(scale));
            Assert.That(FloatConvert.SingleToBF16(1f / t.Scales[0]), Is.EqualTo(stored), $"{name}: weight_scale = bf16(1/s)");

            // and back: the packed checkpoint unpacks to the codes HF's WeightQuant gives
            using var u = PackedFormat.Hf2B4T.Unpack(expected, rows, cols);
            Assert.That(u.Codes.Span.SequenceEqual(t.Codes.Span), Is.True, name);
        }
    }

    [Test]
    public void Tq2ToI2SAndBackIsTheIdentityOnTheFixtureWeights()
    {
        foreach (var (name, rows, cols) in Projections())
        {
            using var t = TernaryQuantizer.Quantize(_master.ReadSingles(name), rows, cols);
            using var tq2 = t.Pack(PackedFormat.Tq2_0);
            foreach (var i2s in new[] { PackedFormat.I2SX86, PackedFormat.I2SArm })
            {
                using var mid = PackedFormat.Tq2_0.Convert(tq2.Span, rows, cols, i2s);
                using var back = i2s.Convert(mid.Span, rows, cols, PackedFormat.Tq2_0);
                Assert.That(back.Span.SequenceEqual(tq2.Span), Is.True, $"{name}: TQ2_0 -> {i2s} -> TQ2_0");
                using var fromI2S = i2s.Unpack(mid.Span, rows, cols);
                Assert.That(fromI2S.Scales[0], Is.EqualTo((float)(Half)(1f / t.Scales[0])), $"{name}: the scale is TQ2_0's fp16 d");
            }
            // the checkpoint's own bytes take the same road, carrying its weight_scale
            float weightScale = _packed.ReadSingles(name + "_scale")[0];
            using var fromHf = PackedFormat.Hf2B4T.Convert(_packed.GetBytes(name), rows, cols, PackedFormat.Tq2_0, weightScale);
            using var hfBack = PackedFormat.Tq2_0.Convert(fromHf.Span, rows, cols, PackedFormat.Hf2B4T);
            Assert.That(hfBack.Span.SequenceEqual(_packed.GetBytes(name)), Is.True, $"{name}: HF -> TQ2_0 -> HF");
        }
    }

    [Test]
    public void QuantizationErrorOfTheMasterWeightsIsSane()
    {
        foreach (var (name, rows, cols) in Projections())
        {
            float[] w = _master.ReadSingles(name);
            using var t = TernaryQuantizer.Quantize(w, rows, cols);
            using var deq = t.Dequantize();
            var ternary = ErrorMetrics.Compute(w, deq.Span);
            Assert.That(ternary.Cosine, Is.GreaterThan(0.8), $"{name}: ternary cosine {ternary.Cosine:F3}");
            Assert.That(ternary.MaxAbsError, Is.EqualTo(Math.Abs(w[ternary.MaxAbsIndex] - deq.Span[(int)ternary.MaxAbsIndex])).Within(1e-7));

            double previous = double.NegativeInfinity;
            var line = $"{name}: ternary cosine {ternary.Cosine:F3}, SQNR {ternary.SqnrDb:F1} dB; int-N per channel SQNR";
            foreach (int bits in new[] { 2, 4, 8 })
            {
                using var q = IntQuantizer.QuantizeSymmetric(w, rows, cols, bits, Granularity.PerChannel);
                using var back = q.Dequantize();
                double sqnr = ErrorMetrics.Compute(w, back.Span).SqnrDb;
                Assert.That(sqnr, Is.GreaterThan(previous), $"{name}: SQNR at {bits} bits ({sqnr:F1} dB) must beat fewer bits ({previous:F1} dB)");
                previous = sqnr;
                line += $" {bits}b {sqnr:F1} dB";
            }
            TestContext.Out.WriteLine(line);
            Assert.That(previous, Is.GreaterThan(35), $"{name}: 8-bit per-channel SQNR");
        }
    }
}
