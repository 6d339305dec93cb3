using BitNet.Tokenization;
using BitNet.Training;

namespace BitNet.Tests.Training;

/// <summary>TextDataset: windows are slices of the stream with targets shifted by one, an epoch serves every window
/// once in a seeded order, the cursor round-trips, validation never overlaps training.</summary>
public sealed class TextDatasetTests
{
    /// <summary>A stream whose token at position i is i, so a row's values are its positions.</summary>
    private static TextDataset Identity(int n, int seqLen, double validation = 0.1, ulong seed = 7) =>
        new(Enumerable.Range(0, n).ToArray(), n, new TextDatasetOptions { SequenceLength = seqLen, ValidationFraction = validation, Seed = seed });

    private static int[][] Rows(ITrainingData data, int batches, int batch, bool inputs = true)
    {
        int l = data.SequenceLength;
        var rows = new List<int[]>();
        var x = new int[batch * l];
        var y = new int[batch * l];
        for (int b = 0; b < batches; b++)
        {
            data.NextBatch(x, y, batch);
            for (int r = 0; r < batch; r++) rows.Add((inputs ? x : y).AsSpan(r * l, l).ToArray());
        }
        return rows.ToArray();
    }

    [Test]
    public void RowsAreSlicesWithTargetsShiftedByOne()
    {
        var data = Identity(1000, 16);
        var x = new int[4 * 16];
        var y = new int[4 * 16];
        for (int step = 0; step < 30; step++)
        {
            data.NextBatch(x, y, 4);
            for (int i = 0; i < x.Length; i++)
            {
                Assert.That(y[i], Is.EqualTo(x[i] + 1), "target = next token");
                if (i % 16 != 0) Assert.That(x[i], Is.EqualTo(x[i - 1] + 1), "a row is contiguous");
            }
        }
    }

    [Test]
    public void AnEpochServesEveryWindowOnceThenReshuffles()
    {
        var data = Identity(1000, 16); // 900 training tokens: (900 - 16) / 16 = 55 windows
        Assert.That(data.WindowsPerEpoch, Is.EqualTo(55));
        int[] starts = Rows(data, 55, 1).Select(r => r[0]).ToArray();
        int phase = starts.Min() % 16;
        Assert.Multiple(() =>
        {
            Assert.That(starts.Distinct().Count(), Is.EqualTo(55));
            Assert.That(starts.Select(s => (s - phase) / 16).Order(), Is.EqualTo(Enumerable.Range(0, 55)));
            Assert.That(starts.All(s => s % 16 == phase), Is.True);
            Assert.That(starts, Is.Not.Ordered, "shuffled");
            Assert.That(data.Epoch, Is.EqualTo(0));
        });
        int[] next = Rows(data, 55, 1).Select(r => r[0]).ToArray();
        Assert.That(data.Epoch, Is.EqualTo(1));
        Assert.That(next, Is.Not.EqualTo(starts), "the next epoch has another order (or phase)");
        Assert.That(next.Distinct().Count(), Is.EqualTo(55));
    }

    [Test]
    public void IsDeterministicGivenTheSeed()
    {
        int[][] a = Rows(Identity(2000, 32, seed: 11), 20, 3);
        int[][] b = Rows(Identity(2000, 32, seed: 11), 20, 3);
        int[][] c = Rows(Identity(2000, 32, seed: 12), 20, 3);
        Assert.That(b, Is.EqualTo(a));
        Assert.That(c, Is.Not.EqualTo(a));
    }

    [TestCase(5)]
    [TestCase(61)] // past the end of the first epoch (55 windows / 3 per batch)
    public void StateRoundTripsTheCursor(int batchesBefore)
    {
        var data = Identity(1000, 16);
        Rows(data, batchesBefore, 3);
        byte[] state = data.SaveState();
        int[][] expected = Rows(data, 40, 3);

        var resumed = Identity(1000, 16, seed: 99); // the state carries the seed
        resumed.RestoreState(state);
        Assert.That(Rows(resumed, 40, 3), Is.EqualTo(expected));
        Assert.That(resumed.Epoch, Is.EqualTo(data.Epoch));
        Assert.That(resumed.Cursor, Is.EqualTo(data.Cursor));
    }

    [Test]
    public void RejectsStateOfOtherData()
    {
        byte[] state = Identity(1000, 16).SaveState();
        var otherTokens = new TextDataset(Enumerable.Range(0, 1000).Select(i => (i * 7) % 1000).ToArray(), 1000,
            new TextDatasetOptions { SequenceLength = 16, ValidationFraction = 0.1 });
        Assert.Throws<ArgumentException>(() => otherTokens.RestoreState(state));
        Assert.Throws<ArgumentException>(() => Identity(1000, 32).RestoreState(state), "other sequence length");
        Assert.Throws<ArgumentException>(() => Identity(1000, 16, validation: 0.2).RestoreState(state), "other split");
        Assert.Throws<ArgumentException>(() => Identity(1000, 16).RestoreState(state.AsSpan(0, 20)), "truncated");
    }

    [Test]
    public void ValidationIsTheTailAndDisjointFromTraining()
    {
        var data = Identity(1000, 16, validation: 0.1); // training 0..899, validation 900..999
        Assert.That(data.TrainingTokens, Is.EqualTo(900));
        int maxTrain = 0;
        var x = new int[8 * 16];
        var y = new int[8 * 16];
        for (int i = 0; i < 50; i++)
        {
            data.NextBatch(x, y, 8);
            maxTrain = Math.Max(maxTrain, y.Max());
        }
        Assert.That(maxTrain, Is.LessThan(900), "no training row reads a validation token");

        // 99 targets (901..999) in rows of 16: 7 rows, the last holding 3 real targets and 13 padding.
        Assert.That(data.ValidationRows, Is.EqualTo(7));
        var vx = new int[7 * 16];
        var vy = new int[7 * 16];
        data.ValidationBatch(0, 7, vx, vy);
        int[] real = vy.Where(t => t >= 0).ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(real, Is.EqualTo(Enumerable.Range(901, 99)), "every held-out target once, in order");
            Assert.That(vy.Count(t => t == -1), Is.EqualTo(13));
            Assert.That(vx.Take(99), Is.EqualTo(Enumerable.Range(900, 99)));
        });
        var one = new int[16];
        var oneY = new int[16];
        data.ValidationBatch(3, 1, one, oneY);
        Assert.That(one, Is.EqualTo(vx.Skip(48).Take(16)), "rows are addressable and always the same");
        Assert.Throws<ArgumentOutOfRangeException>(() => data.ValidationBatch(6, 2, vx, vy));
    }

    [Test]
    public void DocumentsStartWithBos()
    {
        string json = File.ReadAllText(RepositoryPaths.Fixture("bitnet-tiny", "master", "tokenizer.json"));
        var tokenizer = BpeTokenizer.FromJson(json);
        string[] docs = ["In the beginning God created the heaven and the earth.", "And the earth was without form, and void."];
        var data = new TextDataset(tokenizer, docs, new TextDatasetOptions { SequenceLength = 4, ValidationFraction = 0 });
        int[] first = tokenizer.Encode(docs[0]);
        int[] expected = [0, .. first, 0, .. tokenizer.Encode(docs[1])];
        Assert.That(data.Tokens.ToArray(), Is.EqualTo(expected));
        Assert.That(data.VocabularySize, Is.EqualTo(tokenizer.VocabSize));
        Assert.That(data.ValidationRows, Is.Zero);
    }

    [Test]
    public void RejectsTooLittleTextAndBadOptions()
    {
        Assert.Throws<ArgumentException>(() => Identity(16, 16, validation: 0));
        Assert.DoesNotThrow(() => Identity(17, 16, validation: 0));
        Assert.Throws<ArgumentException>(() => Identity(100, 0));
        Assert.Throws<ArgumentException>(() => Identity(100, 4, validation: 1));
        Assert.Throws<ArgumentException>(() => new TextDataset([1, 2, 3, 99], 10, new TextDatasetOptions { SequenceLength = 1 }));
    }
}
