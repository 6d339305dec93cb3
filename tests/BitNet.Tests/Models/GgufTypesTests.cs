using BitNet.Models;

namespace BitNet.Tests.Models;

public sealed class GgufTypesTests
{
    [TestCase(0u, "F32", 1, 4)]
    [TestCase(1u, "F16", 1, 2)]
    [TestCase(2u, "Q4_0", 32, 18)]
    [TestCase(3u, "Q4_1", 32, 20)]
    [TestCase(6u, "Q5_0", 32, 22)]
    [TestCase(7u, "Q5_1", 32, 24)]
    [TestCase(8u, "Q8_0", 32, 34)]
    [TestCase(10u, "Q2_K", 256, 84)]
    [TestCase(11u, "Q3_K", 256, 110)]
    [TestCase(12u, "Q4_K", 256, 144)]
    [TestCase(13u, "Q5_K", 256, 176)]
    [TestCase(14u, "Q6_K", 256, 210)]
    [TestCase(15u, "Q8_K", 256, 292)]
    [TestCase(24u, "I8", 1, 1)]
    [TestCase(25u, "I16", 1, 2)]
    [TestCase(26u, "I32", 1, 4)]
    [TestCase(27u, "I64", 1, 8)]
    [TestCase(28u, "F64", 1, 8)]
    [TestCase(30u, "BF16", 1, 2)]
    [TestCase(34u, "TQ1_0", 256, 54)]
    [TestCase(35u, "TQ2_0", 256, 66)]
    public void TableRowsMatchGgml(uint id, string name, int blockSize, int bytesPerBlock)
    {
        Assert.That(GgufTypes.TryGet(id, GgufTypeIdSpace.Upstream, out var t), Is.True);
        Assert.That(GgufTypes.TryGet(id, GgufTypeIdSpace.BitNetCpp, out var b), Is.True);
        Assert.Multiple(() =>
        {
            Assert.That(t!.Name, Is.EqualTo(name));
            Assert.That(t.BlockSize, Is.EqualTo(blockSize));
            Assert.That(t.BytesPerBlock, Is.EqualTo(bytesPerBlock));
            Assert.That(b, Is.SameAs(t));
        });
    }

    [Test]
    public void I2SIsSizedForTheWholeTensor()
    {
        Assert.Multiple(() =>
        {
            // bitnet-b1.58-2B-4T's ffn_down: 6912 inputs, 2560 outputs
            Assert.That(GgufTypes.I2_S.ByteSize([6912, 2560]), Is.EqualTo(6912L * 2560 / 4 + 32));
            Assert.That(GgufTypes.I2_S.ByteSize([128]), Is.EqualTo(64));
            Assert.That(GgufTypes.TQ2_0.ByteSize([2560, 6912]), Is.EqualTo(2560L / 256 * 66 * 6912));
            Assert.That(GgufTypes.Q8_0.TryByteSize([33]), Is.Null);
            Assert.That(GgufTypes.F32.TryByteSize([long.MaxValue, 2]), Is.Null);
        });
    }

    [Test]
    public void CollidingIdsFollowTheIdSpace()
    {
        Assert.Multiple(() =>
        {
            Assert.That(GgufTypes.IdSpaceOf("bitnet-b1.58"), Is.EqualTo(GgufTypeIdSpace.BitNetCpp));
            Assert.That(GgufTypes.IdSpaceOf("bitnet-25"), Is.EqualTo(GgufTypeIdSpace.BitNetCpp));
            Assert.That(GgufTypes.IdSpaceOf("bitnet"), Is.EqualTo(GgufTypeIdSpace.Upstream));
            Assert.That(GgufTypes.IdSpaceOf(null), Is.EqualTo(GgufTypeIdSpace.Upstream));
            Assert.That(GgufTypes.TryGet(39, GgufTypeIdSpace.Upstream, out var mx) && mx == GgufTypes.MXFP4, Is.True);
            Assert.That(GgufTypes.TryGet(39, GgufTypeIdSpace.BitNetCpp, out _), Is.False);
            Assert.That(GgufTypes.TryGet(37, GgufTypeIdSpace.BitNetCpp, out _), Is.False);
            Assert.That(GgufTypes.TryGet(36, GgufTypeIdSpace.BitNetCpp, out var i2) && i2 == GgufTypes.I2_S, Is.True);
            Assert.That(GgufTypes.TryGet(36, GgufTypeIdSpace.Upstream, out var i2u) && i2u == GgufTypes.I2_S, Is.True);
            Assert.That(GgufTypes.TryGet(31, GgufTypeIdSpace.Upstream, out _), Is.False);
            Assert.That(GgufTypes.All.Select(t => t.Id), Is.Unique.And.Ordered);
        });
    }
}
