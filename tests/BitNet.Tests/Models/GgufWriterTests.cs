using System.Buffers.Binary;
using System.Text;
using BitNet.Models;

namespace BitNet.Tests.Models;

public sealed class GgufWriterTests
{
    private string _dir = "";

    [SetUp]
    public void MakeTempDir() => _dir = Directory.CreateTempSubdirectory("bn-gguf-").FullName;

    [TearDown]
    public void RemoveTempDir() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static byte[] RandomBytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    [Test]
    public void EveryMetadataTypeRoundTrips()
    {
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet");
        w.Set("t.u8", GgufValue.FromUInt8(250));
        w.Set("t.i8", GgufValue.FromInt8(-128));
        w.Set("t.u16", GgufValue.FromUInt16(65535));
        w.Set("t.i16", GgufValue.FromInt16(-32768));
        w.Set("t.u32", GgufValue.FromUInt32(4_000_000_000));
        w.Set("t.i32", GgufValue.FromInt32(int.MinValue));
        w.Set("t.f32", GgufValue.FromFloat32(-1.5e-5f));
        w.Set("t.bool", GgufValue.FromBoolean(true));
        w.Set("t.false", GgufValue.FromBoolean(false));
        w.Set("t.str", GgufValue.FromString("héllo, 世界 🙂"));
        w.Set("t.empty", GgufValue.FromString(""));
        w.Set("t.u64", GgufValue.FromUInt64(ulong.MaxValue));
        w.Set("t.i64", GgufValue.FromInt64(long.MinValue));
        w.Set("t.f64", GgufValue.FromFloat64(Math.PI));
        w.SetArray<byte>("a.u8", [1, 2, 255]);
        w.SetArray<sbyte>("a.i8", [-1, 0, 127]);
        w.SetArray<ushort>("a.u16", [1, 65535]);
        w.SetArray<short>("a.i16", [-2, 3]);
        w.SetArray<uint>("a.u32", [7, uint.MaxValue]);
        w.SetArray<int>("a.i32", [-7, 1, 2, 3]);
        w.SetArray<float>("a.f32", [0.5f, float.NegativeInfinity]);
        w.SetArray<ulong>("a.u64", [ulong.MaxValue]);
        w.SetArray<long>("a.i64", [long.MinValue, 5]);
        w.SetArray<double>("a.f64", [1e300, -0.0]);
        w.SetArray<int>("a.none", []);
        w.Set("a.bool", GgufValue.FromBooleanArray([true, false, true]));
        w.SetStringArray("a.str", ["a", "", "Ġthe", "<|eot_id|>", "é"]);
        w.Set("a.nested", GgufValue.FromArrayOfArrays([
            GgufValue.FromStringArray(["x", "yz"]),
            GgufValue.FromStringArray([]),
            GgufValue.FromArray<int>([4, 5, 6]),
            GgufValue.FromArrayOfArrays([GgufValue.FromStringArray(["deep"])]),
        ]));
        w.SetUInt32("t.u32", 3_000_000_000); // replacing keeps the key's place
        string path = PathOf("meta.gguf");
        w.Save(path);

        using var f = GgufFile.Open(path);
        Assert.Multiple(() =>
        {
            Assert.That(f.Version, Is.EqualTo(3u));
            Assert.That(f.Keys, Is.EqualTo(w.Keys));
            Assert.That(f.Keys[5], Is.EqualTo("t.u32"));
            Assert.That(f.Tensors, Is.Empty);
            Assert.That(f.Architecture, Is.EqualTo("bitnet"));
            Assert.That(f.GetValue("t.u8").AsUInt8(), Is.EqualTo(250));
            Assert.That(f.GetValue("t.i8").AsInt8(), Is.EqualTo(-128));
            Assert.That(f.GetValue("t.u16").AsUInt16(), Is.EqualTo(65535));
            Assert.That(f.GetValue("t.i16").AsInt16(), Is.EqualTo(-32768));
            Assert.That(f.GetValue("t.u32").AsUInt32(), Is.EqualTo(3_000_000_000u));
            Assert.That(f.GetUInt32("t.u32"), Is.EqualTo(3_000_000_000u));
            Assert.That(f.GetValue("t.i32").AsInt32(), Is.EqualTo(int.MinValue));
            Assert.That(f.GetFloat32("t.f32"), Is.EqualTo(-1.5e-5f));
            Assert.That(f.GetBoolean("t.bool"), Is.True);
            Assert.That(f.GetBoolean("t.false"), Is.False);
            Assert.That(f.GetString("t.str"), Is.EqualTo("héllo, 世界 🙂"));
            Assert.That(f.GetString("t.empty"), Is.Empty);
            Assert.That(f.GetValue("t.u64").AsUInt64(), Is.EqualTo(ulong.MaxValue));
            Assert.That(f.GetValue("t.i64").AsInt64(), Is.EqualTo(long.MinValue));
            Assert.That(f.GetValue("t.f64").AsFloat64(), Is.EqualTo(Math.PI));
            Assert.That(f.GetFloat32("t.f64"), Is.EqualTo((float)Math.PI));
            Assert.That(f.GetArray<byte>("a.u8").ToArray(), Is.EqualTo(new byte[] { 1, 2, 255 }));
            Assert.That(f.GetArray<sbyte>("a.i8").ToArray(), Is.EqualTo(new sbyte[] { -1, 0, 127 }));
            Assert.That(f.GetArray<ushort>("a.u16").ToArray(), Is.EqualTo(new ushort[] { 1, 65535 }));
            Assert.That(f.GetArray<short>("a.i16").ToArray(), Is.EqualTo(new short[] { -2, 3 }));
            Assert.That(f.GetArray<uint>("a.u32").ToArray(), Is.EqualTo(new uint[] { 7, uint.MaxValue }));
            Assert.That(f.GetArray<int>("a.i32").ToArray(), Is.EqualTo(new[] { -7, 1, 2, 3 }));
            Assert.That(f.GetArray<float>("a.f32").ToArray(), Is.EqualTo(new[] { 0.5f, float.NegativeInfinity }));
            Assert.That(f.GetArray<ulong>("a.u64").ToArray(), Is.EqualTo(new[] { ulong.MaxValue }));
            Assert.That(f.GetArray<long>("a.i64").ToArray(), Is.EqualTo(new[] { long.MinValue, 5 }));
            Assert.That(f.GetArray<double>("a.f64").ToArray(), Is.EqualTo(new[] { 1e300, -0.0 }));
            Assert.That(f.GetArray<int>("a.none").Length, Is.Zero);
            var bools = f.GetValue("a.bool");
            Assert.That(Enumerable.Range(0, 3).Select(i => bools.GetElement(i).AsBoolean()), Is.EqualTo(new[] { true, false, true }));
            Assert.That(f.GetStringArray("a.str"), Is.EqualTo(new[] { "a", "", "Ġthe", "<|eot_id|>", "é" }));
            Assert.That(f.GetStringArray("a.str").GetUtf8(4).ToArray(), Is.EqualTo(Encoding.UTF8.GetBytes("é")));
        });

        var nested = f.GetValue("a.nested");
        Assert.Multiple(() =>
        {
            Assert.That(nested.Describe(), Is.EqualTo("Array of Array [4]"));
            Assert.That(nested.GetElement(0).ToStringArray(), Is.EqualTo(new[] { "x", "yz" }));
            Assert.That(nested.GetElement(1).Count, Is.Zero);
            Assert.That(nested.GetElement(2).AsSpan<int>().ToArray(), Is.EqualTo(new[] { 4, 5, 6 }));
            Assert.That(nested.GetElement(3).GetElement(0).GetString(0), Is.EqualTo("deep"));
            Assert.That(nested.GetElement(0).GetElement(1).AsString(), Is.EqualTo("yz"));
        });
    }

    [Test]
    public void TypedAccessorsRefuseOtherTypesAndReportMissingKeys()
    {
        var w = new GgufWriter();
        w.SetString("s", "x");
        w.Set("i", GgufValue.FromInt32(-1));
        w.SetArray<int>("ints", [1]);
        string path = PathOf("typed.gguf");
        w.Save(path);
        using var f = GgufFile.Open(path);
        Assert.Multiple(() =>
        {
            Assert.That(Assert.Throws<ModelFormatException>(() => f.GetUInt32("s"))!.Problem, Does.Contain("'s' is String, expected an integer"));
            Assert.That(Assert.Throws<ModelFormatException>(() => f.GetUInt32("i"))!.Problem, Does.Contain("outside the UInt32 range"));
            Assert.That(Assert.Throws<ModelFormatException>(() => f.GetString("nope"))!.Problem, Does.Contain("missing metadata key 'nope'"));
            Assert.That(Assert.Throws<ModelFormatException>(() => f.GetArray<float>("ints"))!.Problem, Does.Contain("expected Array of Float32"));
            Assert.That(Assert.Throws<ModelFormatException>(() => f.GetStringArray("ints"))!.Problem, Does.Contain("expected Array of String"));
            Assert.That(f.TryGetString("nope", out _), Is.False);
            Assert.That(f.TryGetUInt32("nope", out _), Is.False);
            Assert.That(f.TryGetInteger("i", out long i) && i == -1, Is.True);
            Assert.Throws<InvalidCastException>(() => f.GetValue("s").AsUInt32());
        });
    }

    [Test]
    public void TokenizerArraysAreReadInPlace()
    {
        string[] tokens = ["<s>", "</s>", "Ġhello", "world", "ĠĠ"];
        var w = new GgufWriter();
        w.SetString(GgufKeys.TokenizerModel, "gpt2");
        w.SetStringArray(GgufKeys.Tokens, tokens);
        w.SetArray<int>(GgufKeys.TokenTypes, [3, 3, 1, 1, 1]);
        w.SetArray<float>(GgufKeys.Scores, [0f, 0f, -1f, -2f, -3f]);
        w.SetStringArray(GgufKeys.Merges, ["Ġ h", "w o"]);
        string path = PathOf("tok.gguf");
        w.Save(path);
        using var f = GgufFile.Open(path);
        var list = f.GetStringArray(GgufKeys.Tokens);
        Assert.Multiple(() =>
        {
            Assert.That(list, Has.Count.EqualTo(5));
            Assert.That(list[2], Is.EqualTo("Ġhello"));
            Assert.That(Encoding.UTF8.GetString(list.GetUtf8(4)), Is.EqualTo("ĠĠ"));
            Assert.That(list.ToArray(), Is.EqualTo(tokens));
            Assert.That(f.GetStringArray(GgufKeys.Merges), Is.EqualTo(new[] { "Ġ h", "w o" }));
            Assert.That(f.GetArray<int>(GgufKeys.TokenTypes)[0], Is.EqualTo(3));
            Assert.That(f.GetArray<float>(GgufKeys.Scores)[4], Is.EqualTo(-3f));
            Assert.Throws<ArgumentOutOfRangeException>(() => _ = list[5]);
        });
    }

    [Test]
    public void TensorsOfSeveralTypesRoundTripAligned()
    {
        (string Name, GgufType Type, long[] Dims)[] specs =
        [
            ("f32", GgufTypes.F32, [3, 5]),            // 60 bytes: the next offset must be padded to 64
            ("f16", GgufTypes.F16, [7]),
            ("bf16", GgufTypes.BF16, [4, 2, 3]),
            ("q8_0", GgufTypes.Q8_0, [64, 3]),
            ("q4_k", GgufTypes.Q4_K, [256, 2]),
            ("q6_k", GgufTypes.Q6_K, [512, 1, 1, 2]),
            ("tq1_0", GgufTypes.TQ1_0, [256, 3]),
            ("tq2_0", GgufTypes.TQ2_0, [512, 2]),
            ("i8", GgufTypes.I8, [5]),
            ("scalar", GgufTypes.F32, []),
        ];
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet");
        var data = new Dictionary<string, byte[]>();
        for (int i = 0; i < specs.Length; i++)
        {
            var (name, type, dims) = specs[i];
            data[name] = RandomBytes((int)type.ByteSize(dims), i);
            w.AddTensor(name, type, dims, data[name]);
        }
        string path = PathOf("tensors.gguf");
        w.Save(path);

        using var f = GgufFile.Open(path);
        Assert.That(f.Tensors.Select(t => t.Name), Is.EqualTo(specs.Select(s => s.Name)));
        Assert.Multiple(() =>
        {
            Assert.That(f.Alignment, Is.EqualTo(32u));
            Assert.That(f.DataOffset % 32, Is.Zero);
            long previousEnd = 0;
            foreach (var (name, type, dims) in specs)
            {
                var t = f[name];
                Assert.That(t.Type, Is.SameAs(type), name);
                Assert.That(t.Dimensions, Is.EqualTo(dims), name);
                Assert.That(t.FileOffset % 32, Is.Zero, name);
                Assert.That(t.Offset, Is.EqualTo((previousEnd + 31) / 32 * 32), name);
                Assert.That(f.GetTensorBytes(t).ToArray(), Is.EqualTo(data[name]), name);
                previousEnd = t.Offset + t.ByteLength;
            }
            Assert.That(f["f32"].Shape, Is.EqualTo(new long[] { 5, 3 }));
            Assert.That(f["f32"].RowLength, Is.EqualTo(3));
            Assert.That(f["q8_0"].ByteLength, Is.EqualTo(2 * 3 * 34));
            Assert.That(f["scalar"].ElementCount, Is.EqualTo(1));
            // the file ends with the last tensor padded to the alignment
            Assert.That(new FileInfo(path).Length, Is.EqualTo(f.DataOffset + (previousEnd + 31) / 32 * 32));
        });
    }

    [Test]
    public void BitNetCppTypesRoundTripInABitNetCppFile()
    {
        long[] dims = [256, 8];
        var bytes = RandomBytes((int)GgufTypes.I2_S.ByteSize(dims), 1);
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet-b1.58");
        w.AddTensor("blk.0.attn_q.weight", GgufTypes.I2_S, dims, bytes);
        w.AddTensor("blk.0.attn_k.weight", GgufTypes.TL1, dims, bytes);
        string path = PathOf("i2s.gguf");
        w.Save(path);
        using var f = GgufFile.Open(path);
        Assert.Multiple(() =>
        {
            Assert.That(f.TypeIdSpace, Is.EqualTo(GgufTypeIdSpace.BitNetCpp));
            Assert.That(f["blk.0.attn_q.weight"].Type, Is.SameAs(GgufTypes.I2_S));
            Assert.That(f["blk.0.attn_q.weight"].ByteLength, Is.EqualTo(256 * 8 / 4 + 32));
            Assert.That(f["blk.0.attn_k.weight"].Type, Is.SameAs(GgufTypes.TL1));
            Assert.That(f.GetTensorBytes("blk.0.attn_k.weight").ToArray(), Is.EqualTo(bytes));
        });
    }

    [Test]
    public void LargerAlignmentIsHonoured()
    {
        var w = new GgufWriter();
        w.SetUInt32(GgufKeys.Alignment, 256);
        w.AddTensor("a", GgufTypes.F32, [3], RandomBytes(12, 1));
        w.AddTensor("b", GgufTypes.F32, [5], RandomBytes(20, 2));
        string path = PathOf("align.gguf");
        w.Save(path);
        using var f = GgufFile.Open(path);
        Assert.Multiple(() =>
        {
            Assert.That(f.Alignment, Is.EqualTo(256u));
            Assert.That(f.DataOffset % 256, Is.Zero);
            Assert.That(f["b"].Offset, Is.EqualTo(256));
            Assert.That(f["b"].FileOffset % 256, Is.Zero);
        });
    }

    [Test]
    public void SavingIsDeterministicAndLeavesNoTemporaryFile()
    {
        GgufWriter Build()
        {
            var w = new GgufWriter();
            w.SetString(GgufKeys.Architecture, "bitnet");
            w.SetStringArray(GgufKeys.Tokens, ["a", "b"]);
            w.SetFloat32("bitnet.rope.freq_base", 500000f);
            w.AddTensor("token_embd.weight", GgufTypes.F16, [4, 2], RandomBytes(16, 9));
            w.AddTensor("blk.0.attn_q.weight", GgufTypes.TQ2_0, [256, 4], RandomBytes(4 * 66, 10));
            return w;
        }
        string a = PathOf("a.gguf"), b = PathOf("b.gguf");
        Build().Save(a);
        Build().Save(b);
        Build().Save(b); // overwriting an existing file
        Assert.Multiple(() =>
        {
            Assert.That(File.ReadAllBytes(b), Is.EqualTo(File.ReadAllBytes(a)));
            Assert.That(Directory.GetFiles(_dir).OrderBy(p => p), Is.EqualTo(new[] { a, b }));
        });
    }

    [Test]
    public void TensorsFromSourcesAreWrittenAsTheSameBytesInOrder()
    {
        byte[] embd = RandomBytes(16, 9), q = RandomBytes(4 * 66, 10), k = RandomBytes(2 * 66, 11);
        var plain = new GgufWriter();
        plain.SetString(GgufKeys.Architecture, "bitnet");
        plain.AddTensor("token_embd.weight", GgufTypes.F16, [4, 2], embd);
        plain.AddTensor("blk.0.attn_q.weight", GgufTypes.TQ2_0, [256, 4], q);
        plain.AddTensor("blk.0.attn_k.weight", GgufTypes.TQ2_0, [256, 2], k);
        plain.Save(PathOf("plain.gguf"));

        var calls = new List<string>();
        var streamed = new GgufWriter();
        streamed.SetString(GgufKeys.Architecture, "bitnet");
        streamed.AddTensor("token_embd.weight", GgufTypes.F16, [4, 2], embd);
        streamed.AddTensor("blk.0.attn_q.weight", GgufTypes.TQ2_0, [256, 4], dst =>
        {
            calls.Add($"q {dst.Length}");
            q.CopyTo(dst);
        });
        streamed.AddTensor("blk.0.attn_k.weight", GgufTypes.TQ2_0, [256, 2], dst =>
        {
            calls.Add($"k {dst.Length}");
            k.CopyTo(dst);
        });
        Assert.That(calls, Is.Empty, "sources run during Save");
        streamed.Save(PathOf("streamed.gguf"));
        Assert.That(calls, Is.EqualTo(new[] { "q 264", "k 132" }));
        Assert.That(File.ReadAllBytes(PathOf("streamed.gguf")), Is.EqualTo(File.ReadAllBytes(PathOf("plain.gguf"))));
    }

    [Test]
    public void LayoutMatchesTheSpecificationByteForByte()
    {
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet");
        w.AddTensor("w", GgufTypes.F32, [2], BitConverter.GetBytes(1f).Concat(BitConverter.GetBytes(-2f)).ToArray());
        string path = PathOf("exact.gguf");
        w.Save(path);

        // written independently from docs/gguf.md
        var expected = new List<byte>();
        void U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); expected.AddRange(b); }
        void U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); expected.AddRange(b); }
        void Str(string s) { U64((ulong)Encoding.UTF8.GetByteCount(s)); expected.AddRange(Encoding.UTF8.GetBytes(s)); }
        expected.AddRange("GGUF"u8.ToArray());
        U32(3); U64(1); U64(1);
        Str("general.architecture"); U32(8); Str("bitnet");
        Str("w"); U32(1); U64(2); U32(0); U64(0);
        while (expected.Count % 32 != 0) expected.Add(0);
        expected.AddRange(BitConverter.GetBytes(1f));
        expected.AddRange(BitConverter.GetBytes(-2f));
        while (expected.Count % 32 != 0) expected.Add(0);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(expected.ToArray()));
    }

    [Test]
    public void WriterRefusesInvalidInput()
    {
        var w = new GgufWriter();
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentException>(() => w.AddTensor("x", GgufTypes.F32, [3], new byte[8]));
            Assert.Throws<ArgumentException>(() => w.AddTensor("q", GgufTypes.Q8_0, [48], new byte[34]));
            Assert.Throws<ArgumentException>(() => w.AddTensor(new string('n', 64), GgufTypes.F32, [1], new byte[4]));
            Assert.Throws<ArgumentException>(() => w.AddTensor("five", GgufTypes.F32, [1, 1, 1, 1, 1], new byte[4]));
            Assert.Throws<ArgumentException>(() => w.SetUInt32(GgufKeys.Alignment, 48));
            Assert.Throws<ArgumentException>(() => w.Set(GgufKeys.Alignment, GgufValue.FromUInt64(32)));
        });
        w.AddTensor("x", GgufTypes.F32, [1], new byte[4]);
        Assert.Throws<ArgumentException>(() => w.AddTensor("x", GgufTypes.F32, [1], new byte[4]));

        // id 39 is TL2 to bitnet.cpp: an MXFP4 tensor would not read back in a bitnet-b1.58 file
        var mx = new GgufWriter();
        mx.SetString(GgufKeys.Architecture, "bitnet-b1.58");
        mx.AddTensor("m", GgufTypes.MXFP4, [32], new byte[17]);
        string path = PathOf("mx.gguf");
        Assert.That(Assert.Throws<InvalidOperationException>(() => mx.Save(path))!.Message, Does.Contain("MXFP4"));
        Assert.That(File.Exists(path), Is.False);
    }
}
