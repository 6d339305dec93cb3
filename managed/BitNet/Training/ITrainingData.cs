namespace BitNet.Training;

/// <summary>
/// A source of training windows: token sequences cut from a corpus, served as next-token prediction batches
/// (targets are inputs shifted by one), with a held-out validation split. Implementations are deterministic given
/// their seed, and their cursor (shuffle order, position, RNG state) round-trips through <see cref="SaveState"/> /
/// <see cref="RestoreState"/>, so a run resumed from a checkpoint sees exactly the batches it would have seen.
/// </summary>
public interface ITrainingData
{
    /// <summary>Tokens per training row (the model's context during training).</summary>
    int SequenceLength { get; }

    /// <summary>The vocabulary size the token ids are drawn from (ids are 0 .. VocabularySize-1).</summary>
    int VocabularySize { get; }

    /// <summary>Fills <paramref name="inputs"/> and <paramref name="targets"/> (each <c>batch * SequenceLength</c>, row
    /// major) with the next <paramref name="batch"/> training rows and advances the cursor; starts a new shuffled epoch
    /// when the current one runs out.</summary>
    void NextBatch(Span<int> inputs, Span<int> targets, int batch);

    /// <summary>Number of validation rows of <see cref="SequenceLength"/> tokens.</summary>
    int ValidationRows { get; }

    /// <summary>Fills validation rows <paramref name="firstRow"/> .. <paramref name="firstRow"/> + <paramref name="rows"/> - 1
    /// (always the same rows, in the same order); targets of padding positions are -1.</summary>
    void ValidationBatch(int firstRow, int rows, Span<int> inputs, Span<int> targets);

    /// <summary>The cursor and RNG state, for checkpoints.</summary>
    byte[] SaveState();

    /// <summary>Restores a state written by <see cref="SaveState"/> of the same data; throws <see cref="ArgumentException"/>
    /// when the state belongs to different data.</summary>
    void RestoreState(ReadOnlySpan<byte> state);
}
