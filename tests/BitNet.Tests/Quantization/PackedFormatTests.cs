using BitNet.Interop;
using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

public sealed class PackedFormatTests
{
    /// <summary>A shape each format accepts that is awkward for it: few rows, not a power of two, more than one block per
    /// row where blocks are along rows, and a block of zeros in the middle.</summary>
    private static (int Rows, int Cols) AwkwardShape(PackedFormat f) => f.Name switch
    {
        "HF_2B4T" => (12, 7),
        "TQ1_0" or "TQ2_0" => (3, 768),
        "I2_S_X86" => (5, 384),
        "I2_S_ARM" => (7, 192),
        _ => throw new InvalidOperationException($"no test shape for {f.Name}: add one"),
    };

    private static IEnumerable<TestCaseData> Formats() =>
        PackedFormat.All.Select(f => new TestCaseData(f).SetArgDisplayNames(f.Name));

    [Test]
    public void TheTableDescribesEveryFormat()
    {
        Assert.That(PackedFormat.All.Select(f => f.Name), Is.EqualTo(new[] { "HF_2B4T", "TQ1_0", "TQ2_0", "I2_S_X86", "I2_S_ARM" }));
        Assert.Multiple(() =>
        {
            var hf = PackedFormat.Hf2B4T;
            Assert.That((hf.BlockSize, hf.BlockBytes, hf.GgmlType, hf.ScalePlacement, hf.RowMultiple, hf.ColMultiple, hf.TensorExtraBytes),
                Is.EqualTo((4, 1, (int?)null, ScalePlacement.Outside, 4, 1, 0)));
            var tq1 = PackedFormat.Tq1_0;
            Assert.That((tq1.BlockSize, tq1.BlockBytes, tq1.GgmlType, tq1.ScalePlacement, tq1.ColMultiple),
                Is.EqualTo((256, 54, (int?)34, ScalePlacement.PerBlock, 256)));
            var tq2 = PackedFormat.Tq2_0;
            Assert.That((tq2.BlockSize, tq2.BlockBytes, tq2.GgmlType, tq2.ScalePlacement, tq2.ColMultiple),
                Is.EqualTo((256, 66, (int?)35, ScalePlacement.PerBlock, 256)));
            var x86 = PackedFormat.I2SX86;
            Assert.That((x86.BlockSize, x86.BlockBytes, x86.GgmlType, x86.ScalePlacement, x86.ColMultiple, x86.TensorExtraBytes),
                Is.EqualTo((128, 32, (int?)36, ScalePlacement.PerTensor, 128, 32)));
            var arm = PackedFormat.I2SArm;
            Assert.That((arm.BlockSize, arm.BlockBytes, arm.GgmlType, arm.ColMultiple), Is.EqualTo((64, 16, (int?)36, 64)));
            Assert.That(PackedFormat.All.All(f => f.IsTernary), Is.True);
        });
    }

    [Test]
    public void FromNameIgnoresCaseAndNamesTheFormatsWhenItFails()
    {
        Assert.Multiple(() =>
        {
            Assert.That(PackedFormat.FromName("tq2_0"), Is.SameAs(PackedFormat.Tq2_0));
            Assert.That(PackedFormat.FromName("I2_S_ARM"), Is.SameAs(PackedFormat.I2SArm));
            Assert.That(PackedFormat.TryFromName("q4_0", out _), Is.False);
            Assert.That(PackedFormat.Tq1_0.ToString(), Is.EqualTo("TQ1_0"));
        });
        var e = Assert.Throws<ArgumentException>(() => PackedFormat.FromName("q4_0"))!;
        Assert.That(e.Message, Does.Contain("\"q4_0\"").And.Contain("HF_2B4T, TQ1_0, TQ2_0, I2_S_X86, I2_S_ARM"));
    }

    [TestCaseSource(nameof(Formats))]
    public void PackUnpackAndDequantizeRoundTripOnAnAwkwardShape(PackedFormat f)
    {
        var (rows, cols) = AwkwardShape(f);
        int n = rows * cols;
        sbyte[] codes = TestData.TernaryCodes(n, seed: 60, zeroRunStart: n / f.BlockSize / 2 * f.BlockSize, zeroRunLength: f.BlockSize);
        const float scale = 0.0234375f; // 3/128: exact in fp16, bf16 and fp32
        long expectedSize = (long)n / f.BlockSize * f.BlockBytes + f.TensorExtraBytes;
        Assert.That(f.PackedSize(rows, cols), Is.EqualTo(expectedSize));

        using var packed = f.Pack(codes, rows, cols, scale);
        Assert.That(packed.Length, Is.EqualTo(expectedSize));
        using var u = f.Unpack(packed.Span, rows, cols);
        Assert.That(u.Codes.Span.ToArray(), Is.EqualTo(codes));
        Assert.That(u.Format, Is.SameAs(f));
        Assert.That(u.Scales, Has.Length.EqualTo(f.ScaleCount(rows, cols)));
        switch (f.ScalePlacement)
        {
            case ScalePlacement.Outside:
                Assert.That(u.Scales, Is.Empty);
                break;
            case ScalePlacement.PerTensor:
                Assert.That(u.Scales, Is.EqualTo(new[] { scale }));
                break;
            default: // ggml writes d = 0 into a block of zeros
                for (int b = 0; b < u.Scales.Length; b++)
                {
                    bool any = codes.AsSpan(b * f.BlockSize, f.BlockSize).ContainsAnyExcept((sbyte)0);
                    Assert.That(u.Scales[b], Is.EqualTo(any ? scale : 0f), $"block {b}");
                }
                break;
        }

        using var w = f.ScalePlacement == ScalePlacement.Outside
            ? f.Dequantize(packed.Span, rows, cols, scale)
            : f.Dequantize(packed.Span, rows, cols);
        Assert.That(w.Span.ToArray(), Is.EqualTo(codes.Select(q => q * scale).ToArray()));
    }

    [TestCaseSource(nameof(Formats))]
    public void IntoSpansWritesThePackedSizeAndRefusesShortBuffers(PackedFormat f)
    {
        var (rows, cols) = AwkwardShape(f);
        sbyte[] codes = TestData.TernaryCodes(rows * cols, seed: 61);
        int size = (int)f.PackedSize(rows, cols);
        var dst = new byte[size + 5];
        Assert.That(f.Pack(codes, rows, cols, [0.5f], dst), Is.EqualTo(size));
        using var allocated = f.Pack(codes, rows, cols, 0.5f);
        Assert.That(dst.AsSpan(0, size).SequenceEqual(allocated.Span), Is.True);

        var e = Assert.Throws<BitNetException>(() => f.Pack(codes, rows, cols, [0.5f], new byte[size - 1]))!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrBufferTooSmall));
            Assert.That(e.NativeMessage, Does.Contain($"dst has {size - 1} bytes").And.Contain($"needs {size}"));
        });
        e = Assert.Throws<BitNetException>(() => f.Unpack(dst.AsSpan(0, size - 1), rows, cols).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrShape));
            Assert.That(e.NativeMessage, Does.Contain($"src has {size - 1} bytes").And.Contain($"takes {size}"));
        });
        e = Assert.Throws<BitNetException>(() => f.Unpack(dst, rows, cols, new sbyte[rows * cols - 1], new float[1000]))!;
        Assert.That(e.Status, Is.EqualTo(BnStatus.ErrBufferTooSmall));
        Assert.Throws<ArgumentException>(() => f.Pack(codes.AsSpan(1), rows, cols, 0.5f).Dispose());
    }

    [TestCaseSource(nameof(Formats))]
    public void ShapesThatDoNotFitAreRefusedWithTheNumbers(PackedFormat f)
    {
        var (rows, cols) = AwkwardShape(f);
        int badRows = f.RowMultiple > 1 ? rows + 1 : rows, badCols = f.ColMultiple > 1 ? cols + 1 : cols;
        if (f.ColMultiple > 1)
        {
            var e = Assert.Throws<BitNetException>(() => f.Pack(new sbyte[rows * badCols], rows, badCols, 1f).Dispose())!;
            Assert.Multiple(() =>
            {
                Assert.That(e.Status, Is.EqualTo(BnStatus.ErrShape));
                Assert.That(e.NativeMessage, Does.Contain($"multiple of its block ({f.ColMultiple}); cols is {badCols}"));
            });
        }
        if (f.RowMultiple > 1)
        {
            var e = Assert.Throws<BitNetException>(() => f.PackedSize(badRows, cols))!;
            Assert.Multiple(() =>
            {
                Assert.That(e.Status, Is.EqualTo(BnStatus.ErrShape));
                Assert.That(e.NativeMessage, Does.Contain($"multiple of {f.RowMultiple}; rows is {badRows}"));
            });
        }
        Assert.That(() => f.PackedSize(0, cols),
            Throws.TypeOf<BitNetException>().With.Property(nameof(BitNetException.Status)).EqualTo(BnStatus.ErrInvalidArgument));
    }

    [TestCaseSource(nameof(Formats))]
    public void BadCodesAndScalesAreRefused(PackedFormat f)
    {
        var (rows, cols) = AwkwardShape(f);
        sbyte[] codes = TestData.TernaryCodes(rows * cols, seed: 62);
        codes[5] = 2;
        var e = Assert.Throws<BitNetException>(() => f.Pack(codes, rows, cols, 1f).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidArgument));
            Assert.That(e.NativeMessage, Does.Contain("codes[5] = 2 is not ternary"));
        });
        codes[5] = 1;
        if (f.ScalePlacement == ScalePlacement.Outside) return; // stores no scale: nothing more to refuse
        e = Assert.Throws<BitNetException>(() => f.Pack(codes, rows, cols, float.NaN).Dispose())!;
        Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
        e = Assert.Throws<BitNetException>(() => f.Pack(codes, rows, cols, [1f, 2f]).Dispose())!;
        Assert.That(e.Status, Is.EqualTo(BnStatus.ErrInvalidArgument));
        if (f.ScalePlacement == ScalePlacement.PerBlock)
        {
            e = Assert.Throws<BitNetException>(() => f.Pack(codes, rows, cols, 1e6f).Dispose())!;
            Assert.Multiple(() =>
            {
                Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
                Assert.That(e.NativeMessage, Does.Contain("does not fit fp16"));
            });
        }
    }

    [Test]
    public void BytesThatNoPackerWritesAreRefusedNamingTheByte()
    {
        using var packed = PackedFormat.Tq2_0.Pack(new sbyte[256], 1, 256, 1f);
        packed.Span[10] |= 0b0000_1100; // the 2-bit field of weight 10 + 32 becomes 3
        var e = Assert.Throws<BitNetException>(() => PackedFormat.Tq2_0.Unpack(packed.Span, 1, 256).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrFormat));
            Assert.That(e.NativeMessage, Does.Contain("block 0 byte 10"));
        });
        using var hf = PackedFormat.Hf2B4T.Pack(new sbyte[8], 4, 2);
        hf.Span[1] = 0xFF;
        e = Assert.Throws<BitNetException>(() => PackedFormat.Hf2B4T.Dequantize(hf.Span, 4, 2, 1f).Dispose())!;
        Assert.That(e.NativeMessage, Does.Contain("byte [0, 1]"));
    }

    [Test]
    public void TheFloatPathIsGgmlsForTqAndBitnetCppsForI2S()
    {
        const int rows = 2, cols = 512;
        float[] w = TestData.Gaussian(rows * cols, seed: 63);
        w[3] = 0f;
        using var tq = PackedFormat.Tq2_0.Quantize(w, rows, cols);
        using var u = PackedFormat.Tq2_0.Unpack(tq.Span, rows, cols);
        for (int b = 0; b < 4; b++)
        {
            float d = w.AsSpan(b * 256, 256).ToArray().Max(Math.Abs);
            Assert.That(u.Scales[b], Is.EqualTo((float)(Half)d), $"block {b}: d = fp16(max|w|)");
            for (int i = b * 256; i < (b + 1) * 256; i++)
                Assert.That(u.Codes.Span[i], Is.EqualTo((sbyte)Math.Round(w[i] * (1f / d), MidpointRounding.AwayFromZero)), $"weight {i}");
        }

        float[] ternaryTimesScale = TestData.TernaryCodes(rows * cols, seed: 64).Select(q => q * 0.75f).ToArray();
        using var i2s = PackedFormat.I2SX86.Quantize(ternaryTimesScale, rows, cols);
        using var back = PackedFormat.I2SX86.Dequantize(i2s.Span, rows, cols);
        Assert.That(back.Span.ToArray(), Is.EqualTo(ternaryTimesScale));

        var e = Assert.Throws<BitNetException>(() => PackedFormat.Hf2B4T.Quantize(w, 4, 256).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrUnsupported));
            Assert.That(e.NativeMessage, Does.Contain("bn_quantize_ternary_absmean"));
        });
        w[700] = float.PositiveInfinity;
        e = Assert.Throws<BitNetException>(() => PackedFormat.Tq1_0.Quantize(w, rows, cols).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrNumeric));
            Assert.That(e.NativeMessage, Does.Contain("row 1, col 188"));
        });
    }

    [Test]
    public void ConvertingBetweenEveryPairKeepsCodesAndScale()
    {
        const int rows = 8, cols = 512; // fits every format
        sbyte[] codes = TestData.TernaryCodes(rows * cols, seed: 65, zeroRunStart: 1024, zeroRunLength: 256);
        const float scale = 0.046875f;
        foreach (var from in PackedFormat.All)
        {
            using var src = from.Pack(codes, rows, cols, scale);
            foreach (var to in PackedFormat.All)
            {
                using var converted = from.ScalePlacement == ScalePlacement.Outside
                    ? from.Convert(src.Span, rows, cols, to, scale)
                    : from.Convert(src.Span, rows, cols, to);
                using var direct = to.Pack(codes, rows, cols, scale);
                Assert.That(converted.Span.SequenceEqual(direct.Span), Is.True, $"{from} -> {to}");
                using var back = to.ScalePlacement == ScalePlacement.Outside
                    ? to.Convert(converted.Span, rows, cols, from, scale)
                    : to.Convert(converted.Span, rows, cols, from);
                Assert.That(back.Span.SequenceEqual(src.Span), Is.True, $"{from} -> {to} -> {from}");
            }
        }
    }

    [Test]
    public void ConversionsThatLoseOrLackAScaleAreRefused()
    {
        const int rows = 4, cols = 512;
        sbyte[] codes = TestData.TernaryCodes(rows * cols, seed: 66);
        using var hf = PackedFormat.Hf2B4T.Pack(codes, rows, cols);
        var a = Assert.Throws<ArgumentException>(() => PackedFormat.Hf2B4T.Convert(hf.Span, rows, cols, PackedFormat.Tq2_0).Dispose())!;
        Assert.That(a.Message, Does.Contain("HF_2B4T keeps its scale outside").And.Contain("TQ2_0"));
        Assert.Throws<ArgumentException>(() => PackedFormat.Hf2B4T.Dequantize(hf.Span, rows, cols).Dispose());

        float[] perBlock = Enumerable.Range(0, rows * cols / 256).Select(b => 0.5f + b).ToArray();
        using var tq = PackedFormat.Tq2_0.Pack(codes, rows, cols, perBlock);
        var e = Assert.Throws<BitNetException>(() => PackedFormat.Tq2_0.Convert(tq.Span, rows, cols, PackedFormat.I2SX86).Dispose())!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrUnsupported));
            Assert.That(e.NativeMessage, Does.Contain("blocks 0 and 1 have different scales (0.5, 1.5)"));
        });
        using var tq1 = PackedFormat.Tq2_0.Convert(tq.Span, rows, cols, PackedFormat.Tq1_0);
        using var u = PackedFormat.Tq1_0.Unpack(tq1.Span, rows, cols);
        Assert.That(u.Scales, Is.EqualTo(perBlock), "per-block scales carry over block for block");
        e = Assert.Throws<BitNetException>(() => PackedFormat.Tq2_0.Convert(tq.Span, rows, 384, PackedFormat.I2SX86).Dispose())!;
        Assert.That(e.Status, Is.EqualTo(BnStatus.ErrShape));
    }

    [Test]
    public void TernaryWeightsPackWithTheirScalesIntoEveryFormat()
    {
        const int rows = 4, cols = 512;
        float[] w = TestData.Gaussian(rows * cols, seed: 67, sigma: 0.1f);
        using var perTensor = TernaryQuantizer.Quantize(w, rows, cols);
        using var perGroup = TernaryQuantizer.Quantize(w, rows, cols, Granularity.PerGroup(256));
        using var tiny = TernaryQuantizer.Quantize(w, rows, cols, Granularity.PerGroup(128));
        foreach (var f in PackedFormat.All)
        {
            using var packed = perTensor.Pack(f);
            using var deq = f.Dequantize(packed.Span, rows, cols, 1f / perTensor.Scales[0]);
            using var expected = perTensor.Dequantize();
            var m = ErrorMetrics.Compute(expected.Span, deq.Span);
            // fp16 d (TQ) keeps 11 significant bits; fp32 (I2_S, outside) keeps 1/s exactly but multiplies instead of dividing
            Assert.That(m.MaxAbsError, Is.LessThanOrEqualTo(expected.Span.ToArray().Max(Math.Abs) * 1e-3), f.Name);
        }
        using var tq = perGroup.Pack(PackedFormat.Tq2_0);
        using var unpacked = PackedFormat.Tq2_0.Unpack(tq.Span, rows, cols);
        Assert.That(unpacked.Scales, Is.EqualTo(perGroup.Scales.Select(s => (float)(Half)(1f / s)).ToArray()));
        var a = Assert.Throws<ArgumentException>(() => tiny.Pack(PackedFormat.Tq1_0).Dispose())!;
        Assert.That(a.Message, Does.Contain("groups of 128 values").And.Contain("blocks of 256"));
        a = Assert.Throws<ArgumentException>(() => perGroup.Pack(PackedFormat.I2SArm).Dispose())!;
        Assert.That(a.Message, Does.Contain("one scale per tensor").And.Contain("8 scales"));
    }
}
