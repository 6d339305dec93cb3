using System.Buffers.Binary;
using BitNet.Models;
using BitNet.Training;

namespace BitNet.Tests.Training;

/// <summary>Small model shapes and a deterministic in-memory <see cref="ITrainingData"/> for the training tests.</summary>
internal static class TrainingTestModels
{
    /// <summary>Hidden 256 (TQ2_0 blocks), FFN 512, 2 layers, 4 heads / 2 KV heads, vocabulary 96: every projection has a
    /// power-of-two element count (see <see cref="TrainedModelWriterTests"/>).</summary>
    public static ModelConfig Small(int vocab = 96) => new()
    {
        HiddenSize = 256,
        IntermediateSize = 512,
        LayerCount = 2,
        HeadCount = 4,
        KeyValueHeadCount = 2,
        VocabSize = vocab,
        RmsNormEpsilon = 1e-5f,
        RopeTheta = 10000f,
        MaxPositionEmbeddings = 64,
        BosTokenId = 0,
        EosTokenIds = [1],
        Activation = FfnActivation.ReluSquared,
        ActivationSource = "test",
        TieWordEmbeddings = true,
    };
}

/// <summary>
/// A corpus with structure to learn (token i+1 = (3·token i + 7) mod V, with every 5th token random), cut into windows:
/// training windows start at positions drawn by a SplitMix64 counter (the cursor is just that counter, so
/// <see cref="SaveState"/> is 8 bytes), validation windows are the corpus tail, always the same.
/// </summary>
internal sealed class SyntheticTrainingData : ITrainingData
{
    private readonly int[] _corpus;
    private readonly int _trainLength;
    private ulong _counter;

    public SyntheticTrainingData(int vocab, int sequenceLength, int tokens = 4096, int validationRows = 5, ulong seed = 1)
    {
        VocabularySize = vocab;
        SequenceLength = sequenceLength;
        ValidationRows = validationRows;
        _corpus = new int[tokens];
        ulong x = seed;
        _corpus[0] = 2;
        for (int i = 1; i < tokens; i++)
            _corpus[i] = i % 5 == 0 ? (int)(SplitMix(ref x) % (ulong)vocab) : (3 * _corpus[i - 1] + 7) % vocab;
        _trainLength = tokens - validationRows * (sequenceLength + 1);
        _counter = seed * 1000;
    }

    public int SequenceLength { get; }
    public int VocabularySize { get; }
    public int ValidationRows { get; }

    public void NextBatch(Span<int> inputs, Span<int> targets, int batch)
    {
        int t = SequenceLength;
        for (int r = 0; r < batch; r++)
        {
            ulong c = _counter++;
            int start = (int)(SplitMix(ref c) % (ulong)(_trainLength - t - 1));
            _corpus.AsSpan(start, t).CopyTo(inputs.Slice(r * t, t));
            _corpus.AsSpan(start + 1, t).CopyTo(targets.Slice(r * t, t));
        }
    }

    public void ValidationBatch(int firstRow, int rows, Span<int> inputs, Span<int> targets)
    {
        int t = SequenceLength;
        for (int r = 0; r < rows; r++)
        {
            int start = _trainLength + (firstRow + r) * (t + 1);
            _corpus.AsSpan(start, t).CopyTo(inputs.Slice(r * t, t));
            _corpus.AsSpan(start + 1, t).CopyTo(targets.Slice(r * t, t));
        }
    }

    public byte[] SaveState()
    {
        var state = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(state, _counter);
        return state;
    }

    public void RestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != 8) throw new ArgumentException("not a SyntheticTrainingData state");
        _counter = BinaryPrimitives.ReadUInt64LittleEndian(state);
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
