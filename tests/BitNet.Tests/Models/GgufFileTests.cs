using System.Buffers.Binary;
using System.Text;
using BitNet.Models;

namespace BitNet.Tests.Models;

/// <summary>Broken GGUF files: a small valid file is written, then bytes are corrupted or cut; each gives a
/// <see cref="ModelFormatException"/> that names the problem.</summary>
public sealed class GgufFileTests
{
    private string _dir = "";

    [SetUp]
    public void MakeTempDir() => _dir = Directory.CreateTempSubdirectory("bn-gguf-").FullName;

    [TearDown]
    public void RemoveTempDir() => Directory.Delete(_dir, recursive: true);

    // general.architecture is the first key: its type tag sits at 24 + 8 + 20
    private const int FirstValueTypeAt = 24 + 8 + 20;

    /// <summary>Keys "test.k1"/"test.k2" and tensors "t.a" (F32 [8, 2]) and "t.b" (Q8_0 [32, 2]).</summary>
    private byte[] ValidFile()
    {
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet");
        w.SetUInt32("test.k1", 1);
        w.SetStringArray("test.k2", ["x", "y"]);
        w.AddTensor("t.a", GgufTypes.F32, [8, 2], new byte[64]);
        w.AddTensor("t.b", GgufTypes.Q8_0, [32, 2], new byte[68]);
        string path = Path.Combine(_dir, "valid.gguf");
        w.Save(path);
        return File.ReadAllBytes(path);
    }

    private static int IndexOf(byte[] file, string text)
    {
        int i = file.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text));
        Assert.That(i, Is.GreaterThanOrEqualTo(0), text);
        return i;
    }

    // offset of a tensor info's n_dims field: just after its name
    private static int TensorInfoAt(byte[] file, string name) => IndexOf(file, name) + name.Length;

    private ModelFormatException Broken(byte[] bytes)
    {
        string path = Path.Combine(_dir, "broken.gguf");
        File.WriteAllBytes(path, bytes);
        return Assert.Throws<ModelFormatException>(() => GgufFile.Open(path).Dispose())!;
    }

    private static byte[] With(byte[] file, int at, ulong value, int size = 8)
    {
        var copy = (byte[])file.Clone();
        if (size == 8) BinaryPrimitives.WriteUInt64LittleEndian(copy.AsSpan(at), value);
        else BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(at), (uint)value);
        return copy;
    }

    [Test]
    public void TheBaseFileIsValid()
    {
        string path = Path.Combine(_dir, "ok.gguf");
        File.WriteAllBytes(path, ValidFile());
        using var f = GgufFile.Open(path);
        Assert.That(f.Tensors, Has.Count.EqualTo(2));
        Assert.That(f.GetStringArray("test.k2")[1], Is.EqualTo("y"));
    }

    [Test]
    public void VersionTwoIsRead()
    {
        string path = Path.Combine(_dir, "v2.gguf");
        File.WriteAllBytes(path, With(ValidFile(), 4, 2, 4));
        using var f = GgufFile.Open(path);
        Assert.That(f.Version, Is.EqualTo(2u));
    }

    [Test]
    public void MissingFileIsNotAFormatError() =>
        Assert.Throws<FileNotFoundException>(() => GgufFile.Open(Path.Combine(_dir, "none.gguf")));

    [Test]
    public void TooShortForTheMagic() =>
        Assert.That(Broken("GG"u8.ToArray()).Problem, Does.Contain("too short"));

    [Test]
    public void WrongMagic()
    {
        var f = ValidFile();
        f[3] = (byte)'L';
        Assert.That(Broken(f).Problem, Does.Contain("wrong magic").And.Contain("GGUL"));
    }

    [TestCase(1u, "version 1")]
    [TestCase(4u, "unsupported GGUF version 4")]
    [TestCase(0u, "unsupported GGUF version 0")]
    [TestCase(0x03000000u, "byte-swapped")]
    public void UnsupportedVersion(uint version, string message) =>
        Assert.That(Broken(With(ValidFile(), 4, version, 4)).Problem, Does.Contain(message));

    [Test]
    public void EveryTruncationIsReported()
    {
        var f = ValidFile();
        // the last tensor's padding may go; its data may not
        string path = Path.Combine(_dir, "ok.gguf");
        File.WriteAllBytes(path, f);
        long end;
        using (var ok = GgufFile.Open(path)) end = ok["t.b"].FileOffset + ok["t.b"].ByteLength;
        for (int n = 0; n < end; n++)
        {
            var e = Broken(f[..n]);
            Assert.That(e.Problem, Does.Contain("truncated").Or.Contain("too short").Or.Contain("beyond the file")
                .Or.Contain("past the end").Or.Contain("out of bounds"), $"cut at {n}");
        }
        File.WriteAllBytes(path, f[..(int)end]);
        using var trimmed = GgufFile.Open(path);
        Assert.That(trimmed.Tensors, Has.Count.EqualTo(2));
    }

    [Test]
    public void TensorCountBeyondTheFile() =>
        Assert.That(Broken(With(ValidFile(), 8, 1UL << 40)).Problem, Does.Contain("tensor infos: count 1099511627776 is beyond the file"));

    [Test]
    public void KeyValueCountBeyondTheFile() =>
        Assert.That(Broken(With(ValidFile(), 16, ulong.MaxValue)).Problem, Does.Contain("key/value pairs: count").And.Contain("beyond the file"));

    [Test]
    public void KeyLengthBeyondTheFile() =>
        Assert.That(Broken(With(ValidFile(), 24, 1UL << 33)).Problem, Does.Contain("string length 8589934592").And.Contain("past the end"));

    [Test]
    public void StringValueLengthBeyondTheFile() =>
        Assert.That(Broken(With(ValidFile(), FirstValueTypeAt + 4, ulong.MaxValue - 3)).Problem,
            Does.Contain("metadata key 'general.architecture'").And.Contain("past the end"));

    [Test]
    public void ArrayCountBeyondTheFile()
    {
        var f = ValidFile();
        int count = IndexOf(f, "test.k2") + 7 + 4 + 4; // key, value type, element type
        Assert.That(Broken(With(f, count, 1UL << 50)).Problem, Does.Contain("'test.k2': array of String: count").And.Contain("beyond the file"));
    }

    [Test]
    public void UnknownValueType() =>
        Assert.That(Broken(With(ValidFile(), FirstValueTypeAt, 13, 4)).Problem,
            Does.Contain("metadata key 'general.architecture': unknown value type 13"));

    [Test]
    public void UnknownArrayElementType()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, IndexOf(f, "test.k2") + 7 + 4, 77, 4)).Problem, Does.Contain("unknown array element type 77"));
    }

    [Test]
    public void InvalidUtf8Key()
    {
        var f = ValidFile();
        f[IndexOf(f, "test.k1")] = 0xFF;
        Assert.That(Broken(f).Problem, Does.Contain("not valid UTF-8"));
    }

    [Test]
    public void DuplicateKey()
    {
        var f = ValidFile();
        f[IndexOf(f, "test.k2") + 6] = (byte)'1';
        Assert.That(Broken(f).Problem, Does.Contain("duplicate metadata key 'test.k1'"));
    }

    [Test]
    public void DuplicateTensorName()
    {
        var f = ValidFile();
        f[IndexOf(f, "t.b") + 2] = (byte)'a';
        Assert.That(Broken(f).Problem, Does.Contain("duplicate tensor name 't.a'"));
    }

    [Test]
    public void TooManyDimensions()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, TensorInfoAt(f, "t.a"), 5, 4)).Problem, Does.Contain("tensor 't.a': n_dims 5 > 4"));
    }

    [Test]
    public void DimensionsWhoseProductOverflows()
    {
        var f = ValidFile();
        int dims = TensorInfoAt(f, "t.a") + 4;
        var g = With(With(f, dims, 1UL << 32), dims + 8, 1UL << 32);
        Assert.That(Broken(g).Problem, Does.Contain("tensor 't.a': dimensions [4294967296, 4294967296] overflow"));
    }

    [Test]
    public void NegativeDimension()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, TensorInfoAt(f, "t.a") + 4, ulong.MaxValue)).Problem, Does.Contain("negative"));
    }

    [Test]
    public void UnknownTensorType()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, TensorInfoAt(f, "t.a") + 4 + 16, 99, 4)).Problem, Does.Contain("tensor 't.a': unknown tensor type 99"));
    }

    [Test]
    public void RowLengthNotAMultipleOfTheBlockSize()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, TensorInfoAt(f, "t.b") + 4, 48)).Problem,
            Does.Contain("tensor 't.b': row length 48 is not a multiple of the Q8_0 block size 32"));
    }

    [Test]
    public void MisalignedTensorOffset()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, TensorInfoAt(f, "t.b") + 4 + 16 + 4, 68)).Problem,
            Does.Contain("tensor 't.b': data offset 68 is misaligned"));
    }

    [Test]
    public void TensorDataOutOfBounds()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, TensorInfoAt(f, "t.b") + 4 + 16 + 4, 1 << 20)).Problem,
            Does.Contain("tensor 't.b': data [1048576, 1048644) is out of bounds"));
    }

    [Test]
    public void OverlappingTensors()
    {
        var f = ValidFile();
        Assert.That(Broken(With(f, TensorInfoAt(f, "t.b") + 4 + 16 + 4, 32)).Problem, Does.Contain("'t.a' and 't.b' overlap"));
    }

    [Test]
    public void AlignmentThatIsNotAPowerOfTwo()
    {
        var w = new GgufWriter();
        w.SetUInt32(GgufKeys.Alignment, 64);
        string path = Path.Combine(_dir, "a.gguf");
        w.Save(path);
        var f = File.ReadAllBytes(path);
        Assert.That(Broken(With(f, 24 + 8 + 17 + 4, 48, 4)).Problem, Does.Contain("general.alignment = 48 is not a power of two"));
    }

    [Test]
    public void AlignmentOfTheWrongType()
    {
        var w = new GgufWriter();
        w.SetUInt32(GgufKeys.Alignment, 64);
        string path = Path.Combine(_dir, "a.gguf");
        w.Save(path);
        var f = File.ReadAllBytes(path);
        Assert.That(Broken(With(f, 24 + 8 + 17, (uint)GgufValueType.Int32, 4)).Problem, Does.Contain("general.alignment is Int32, expected UInt32"));
    }

    [Test]
    public void ArraysNestedTooDeeply()
    {
        var v = GgufValue.FromArray<int>([1]);
        for (int i = 0; i < GgufFile.MaxArrayDepth; i++) v = GgufValue.FromArrayOfArrays([v]);
        var w = new GgufWriter();
        w.Set("deep", v);
        string path = Path.Combine(_dir, "deep.gguf");
        w.Save(path);
        Assert.That(Broken(File.ReadAllBytes(path)).Problem, Does.Contain("nested deeper than 8"));
    }

    [Test]
    public void TypeIdsFollowTheArchitecture()
    {
        // id 39 is MXFP4 upstream and TL2 in bitnet.cpp files: write an upstream file, then rename its architecture
        var w = new GgufWriter();
        w.SetString(GgufKeys.Architecture, "bitnet-99");
        w.AddTensor("m", GgufTypes.MXFP4, [32], new byte[17]);
        string path = Path.Combine(_dir, "mx.gguf");
        w.Save(path);
        using (var upstream = GgufFile.Open(path)) Assert.That(upstream["m"].Type, Is.SameAs(GgufTypes.MXFP4));
        var f = File.ReadAllBytes(path);
        Encoding.ASCII.GetBytes("25").CopyTo(f, IndexOf(f, "bitnet-99") + 7);
        Assert.That(Broken(f).Problem, Does.Contain("tensor 'm': unknown tensor type 39").And.Contain("TL2"));
    }

    [Test]
    public void RandomCorruptionGivesOnlyFormatErrors()
    {
        var f = ValidFile();
        string path = Path.Combine(_dir, "fuzz.gguf");
        var rng = new Random(1234);
        int headerEnd = TensorInfoAt(f, "t.b") + 4 + 16 + 4 + 8;
        for (int round = 0; round < 300; round++)
        {
            var g = (byte[])f.Clone();
            for (int k = rng.Next(1, 4); k > 0; k--) g[rng.Next(4, headerEnd)] = (byte)rng.Next(256);
            File.WriteAllBytes(path, g);
            try
            {
                using var file = GgufFile.Open(path);
                foreach (var key in file.Keys) _ = file.GetValue(key).ToString();
            }
            catch (ModelFormatException)
            {
            }
        }
        Assert.Pass("300 corrupted headers gave either a valid file or a ModelFormatException");
    }
}
