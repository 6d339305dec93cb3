using System.Buffers.Binary;
using System.Text;
using BitNet.Interop;
using BitNet.Models;

namespace BitNet.Tests.Models;

public sealed class SafetensorsFileTests
{
    private string _dir = "";

    [SetUp]
    public void MakeTempDir() => _dir = Directory.CreateTempSubdirectory("bn-st-").FullName;

    [TearDown]
    public void RemoveTempDir() => Directory.Delete(_dir, recursive: true);

    [Test]
    public void ReadsThePackedFixture()
    {
        using var f = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed", "model.safetensors"));
        // 2 layers × (7 projections × (weight + weight_scale) + 4 norms) + embedding + final norm
        Assert.That(f.Tensors, Has.Count.EqualTo(2 * (7 * 2 + 4) + 2));
        var q = f["model.layers.0.self_attn.q_proj.weight"];
        Assert.Multiple(() =>
        {
            Assert.That(q.DType, Is.EqualTo(DType.U8));
            Assert.That(q.Shape, Is.EqualTo(new long[] { 256 / 4, 256 }));
            Assert.That(f["model.layers.0.self_attn.k_proj.weight"].Shape, Is.EqualTo(new long[] { 128 / 4, 256 }));
            Assert.That(f["model.embed_tokens.weight"].DType, Is.EqualTo(DType.BF16));
            Assert.That(f.Metadata["format"], Is.EqualTo("pt"));
            Assert.That(f.GetBytes(q).Length, Is.EqualTo(64 * 256));
        });
        // every packed byte holds four codes in {0,1,2}: the value 3 never occurs
        var bytes = f.GetBytes(q);
        foreach (byte b in bytes)
            for (int i = 0; i < 4; i++)
                Assert.That((b >> (2 * i)) & 3, Is.LessThan(3));
        float scale = f.ReadSingles("model.layers.0.self_attn.q_proj.weight_scale")[0];
        Assert.That(scale, Is.GreaterThan(0f).And.LessThan(1f));
    }

    [Test]
    public void WriterRoundTripsAndLeavesNoTemporaryFile()
    {
        var w = new SafetensorsWriter();
        w.AddSingles("logits", [1f, -2.5f, 3f, float.MaxValue, 0f, -0f], 2, 3);
        w.AddInt32s("ids", [7, 8, 9], 1, 3);
        w.Metadata["text"] = "hello";
        string path = Path.Combine(_dir, "out.safetensors");
        w.Save(path);
        Assert.That(Directory.GetFiles(_dir), Is.EqualTo(new[] { path }));
        using var f = SafetensorsFile.Open(path);
        Assert.Multiple(() =>
        {
            Assert.That(f.ReadSingles("logits"), Is.EqualTo(new[] { 1f, -2.5f, 3f, float.MaxValue, 0f, -0f }));
            Assert.That(f["logits"].Shape, Is.EqualTo(new long[] { 2, 3 }));
            Assert.That(f["ids"].DType, Is.EqualTo(DType.I32));
            Assert.That(BinaryPrimitives.ReadInt32LittleEndian(f.GetBytes("ids")[8..]), Is.EqualTo(9));
            Assert.That(f.Metadata["text"], Is.EqualTo("hello"));
            Assert.That((8 + BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(path))) % 8, Is.Zero);
        });
    }

    [Test]
    public void WriterRefusesMismatchedShapes()
    {
        var w = new SafetensorsWriter();
        Assert.Throws<ArgumentException>(() => w.AddSingles("x", [1f, 2f, 3f], 2, 2));
        w.AddSingles("x", [1f], 1);
        Assert.Throws<ArgumentException>(() => w.AddSingles("x", [1f], 1));
    }

    [Test]
    public void BFloat16ConversionRoundsToNearestEven()
    {
        Assert.Multiple(() =>
        {
            Assert.That(FloatConvert.SingleToBF16(1.0f), Is.EqualTo(0x3F80));
            // 1 + 2^-8 lies exactly between two bf16 values: ties go to the even one (1.0)
            Assert.That(FloatConvert.SingleToBF16(1.0f + 1f / 256), Is.EqualTo(0x3F80));
            // 1 + 3·2^-8 lies between 1+2^-7 (odd) and 1+2^-6 (even): goes up
            Assert.That(FloatConvert.SingleToBF16(1.0f + 3f / 256), Is.EqualTo(0x3F82));
            Assert.That(FloatConvert.BF16ToSingle(0xC040), Is.EqualTo(-3f));
            Assert.That(float.IsNaN(FloatConvert.BF16ToSingle(FloatConvert.SingleToBF16(float.NaN))));
        });
    }

    // --- broken files: each gives a ModelFormatException that names the problem -------------------------------

    private string WriteRaw(byte[] bytes)
    {
        string path = Path.Combine(_dir, "broken.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static byte[] FileWithHeader(string json, int dataBytes, long? declaredLength = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, declaredLength ?? header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    private ModelFormatException Broken(byte[] bytes) =>
        Assert.Throws<ModelFormatException>(() => SafetensorsFile.Open(WriteRaw(bytes)).Dispose())!;

    [Test]
    public void ShorterThanTheLengthField() =>
        Assert.That(Broken([1, 2, 3]).Problem, Does.Contain("shorter than the 8-byte header length"));

    [Test]
    public void HeaderLengthBeyondTheFile() =>
        Assert.That(Broken(FileWithHeader("{}", 0, declaredLength: 1000)).Problem, Does.Contain("past the end"));

    [Test]
    public void HeaderLengthAboveTheLimit() =>
        Assert.That(Broken(FileWithHeader("{}", 0, declaredLength: long.MaxValue)).Problem, Does.Contain("limit"));

    [Test]
    public void HeaderIsNotJson() =>
        Assert.That(Broken(FileWithHeader("{\"a\": ", 0)).Problem, Does.Contain("not valid JSON"));

    [Test]
    public void UnknownDType() =>
        Assert.That(Broken(FileWithHeader("{\"w\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1)).Problem,
            Does.Contain("unknown dtype 'Q4'"));

    [Test]
    public void DataOffsetsBeyondTheFile() =>
        Assert.That(Broken(FileWithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8)).Problem,
            Does.Contain("truncated"));

    [Test]
    public void SizeDisagreesWithShape() =>
        Assert.That(Broken(FileWithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8)).Problem,
            Does.Contain("needs 12"));

    [Test]
    public void OverlappingTensors() =>
        Assert.That(Broken(FileWithHeader(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12)).Problem,
            Does.Contain("overlap"));

    [Test]
    public void NegativeDimension() =>
        Assert.That(Broken(FileWithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0)).Problem,
            Does.Contain("invalid dimension"));

    [Test]
    public void MissingTensorIsNamed()
    {
        using var f = SafetensorsFile.Open(RepositoryPaths.Fixture("bitnet-tiny", "packed", "model.safetensors"));
        var e = Assert.Throws<ModelFormatException>(() => _ = f["model.layers.9.mlp.up_proj.weight"])!;
        Assert.Multiple(() =>
        {
            Assert.That(e.Problem, Does.Contain("model.layers.9.mlp.up_proj.weight"));
            Assert.That(e.Status, Is.EqualTo(BnStatus.ErrFormat));
        });
    }
}
