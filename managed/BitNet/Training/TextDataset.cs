using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using BitNet.Inference.Sampling;
using BitNet.Tokenization;

namespace BitNet.Training;

/// <summary>How a <see cref="TextDataset"/> cuts its token stream.</summary>
public sealed record TextDatasetOptions
{
    /// <summary>Tokens per training row (inputs; each row reads <c>SequenceLength + 1</c> tokens).</summary>
    public int SequenceLength { get; init; } = 256;

    /// <summary>The share of the token stream, taken from its end, held out for validation (0 ≤ f &lt; 1).</summary>
    public double ValidationFraction { get; init; } = 0.05;

    /// <summary>Seeds the shuffle of training windows.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>
/// Next-token training data from text: each document (a file or a string) is tokenized with a BOS token first, the
/// documents are concatenated into one token stream, and the last <see cref="TextDatasetOptions.ValidationFraction"/> of
/// it is held out.
/// <para>Training rows are windows of <c>L + 1</c> tokens (L = <see cref="SequenceLength"/>; inputs are the first L,
/// targets the last L) starting at <c>phase + i·L</c> in the training part. Each epoch draws its phase (0 ≤ phase &lt; L,
/// so later epochs see other cuts of the text) and the order of the windows (Fisher–Yates) from a
/// <see cref="Xoshiro256StarStar"/> seeded with (seed, epoch). The cursor is therefore (seed, epoch, index), which
/// <see cref="SaveState"/> writes together with a SHA-256 of the token stream and the cut, so a state only restores onto
/// the same data.</para>
/// <para>Validation rows tile the held-out tail with stride L (every held-out token but the first is a target exactly
/// once); the last row is padded with input 0 and target -1. No validation token is ever an input or target of a
/// training row.</para>
/// </summary>
public sealed class TextDataset : ITrainingData
{
    private const uint StateMagic = 0x44544E42; // "BNTD"
    private const int StateVersion = 1;
    private const int StateBytes = 4 + 4 + 32 + 8 + 8 + 8;

    private readonly int[] _tokens;
    private readonly int _trainLength;
    private readonly int _validationStart;
    private readonly byte[] _hash;
    private ulong _seed;
    private long _epoch;
    private int _cursor;
    private int _phase;
    private int[] _order = [];

    /// <summary>Tokenizes <paramref name="documents"/> (texts) with <paramref name="tokenizer"/>.</summary>
    /// <exception cref="ArgumentException">The options are out of range, the tokenizer has no BOS token, or the text is
    /// too short for one training window.</exception>
    public TextDataset(BpeTokenizer tokenizer, IEnumerable<string> documents, TextDatasetOptions? options = null)
        : this(Tokenize(tokenizer, documents), tokenizer.VocabSize, options)
    {
    }

    /// <summary>Uses an already tokenized stream (document starts marked by the caller).</summary>
    /// <exception cref="ArgumentException">The options are out of range, a token is outside the vocabulary, or the
    /// stream is too short for one training window.</exception>
    public TextDataset(int[] tokens, int vocabularySize, TextDatasetOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        options ??= new TextDatasetOptions();
        int l = options.SequenceLength;
        if (l < 1) throw new ArgumentException($"SequenceLength must be at least 1 (got {l})", nameof(options));
        if (!(options.ValidationFraction >= 0 && options.ValidationFraction < 1))
            throw new ArgumentException($"ValidationFraction must be in [0, 1) (got {options.ValidationFraction})", nameof(options));
        if (vocabularySize < 1) throw new ArgumentException("the vocabulary is empty", nameof(vocabularySize));
        foreach (int t in tokens)
            if ((uint)t >= (uint)vocabularySize)
                throw new ArgumentException($"token id {t} is outside the vocabulary of {vocabularySize}", nameof(tokens));

        _tokens = tokens;
        VocabularySize = vocabularySize;
        SequenceLength = l;
        ValidationFraction = options.ValidationFraction;
        int validation = (int)Math.Floor(tokens.Length * options.ValidationFraction);
        _validationStart = tokens.Length - validation;
        _trainLength = _validationStart;
        if (_trainLength < l + 1)
            throw new ArgumentException(
                $"the training part has {_trainLength} tokens, fewer than one window of {l + 1} (sequence length + 1): use more text or a shorter sequence",
                nameof(tokens));
        int validationTargets = Math.Max(0, validation - 1);
        ValidationRows = (validationTargets + l - 1) / l;
        // A window fits at every phase 0..L-1 when W·L ≤ trainLength - L; with less text, one window and the slack as phase.
        WindowsPerEpoch = _trainLength >= 2 * l ? (_trainLength - l) / l : 1;
        _hash = HashOf(tokens, l, _validationStart);
        _seed = options.Seed;
        StartEpoch(0);
    }

    /// <inheritdoc/>
    public int SequenceLength { get; }

    /// <inheritdoc/>
    public int VocabularySize { get; }

    /// <inheritdoc/>
    public int ValidationRows { get; }

    /// <summary>The held-out share of the token stream.</summary>
    public double ValidationFraction { get; }

    /// <summary>All tokens: training part, then validation part.</summary>
    public int TokenCount => _tokens.Length;

    /// <summary>Tokens of the training part.</summary>
    public int TrainingTokens => _trainLength;

    /// <summary>Tokens of the validation part.</summary>
    public int ValidationTokens => _tokens.Length - _validationStart;

    /// <summary>Training rows per epoch.</summary>
    public int WindowsPerEpoch { get; }

    /// <summary>The current epoch (0 first).</summary>
    public long Epoch => _epoch;

    /// <summary>Rows of the current epoch already served.</summary>
    public int Cursor => _cursor;

    /// <summary>The whole token stream (training part first).</summary>
    public ReadOnlySpan<int> Tokens => _tokens;

    /// <summary>Reads UTF-8 text files, one document each.</summary>
    public static TextDataset FromFiles(BpeTokenizer tokenizer, IEnumerable<string> paths, TextDatasetOptions? options = null) =>
        new(tokenizer, paths.Select(p => File.ReadAllText(p, Encoding.UTF8)), options);

    /// <summary>BOS, then the document's tokens, for each document in turn.</summary>
    public static int[] Tokenize(BpeTokenizer tokenizer, IEnumerable<string> documents)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int bos = tokenizer.BosId ?? throw new ArgumentException($"{tokenizer.Source}: the tokenizer has no BOS token", nameof(tokenizer));
        var tokens = new List<int>();
        foreach (string document in documents)
        {
            tokens.Add(bos);
            tokenizer.Encode(document.AsSpan(), tokens);
        }
        return tokens.ToArray();
    }

    /// <inheritdoc/>
    public void NextBatch(Span<int> inputs, Span<int> targets, int batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batch);
        int l = SequenceLength;
        long need = (long)batch * l;
        if (inputs.Length < need || targets.Length < need)
            throw new ArgumentException($"inputs and targets must hold batch * SequenceLength = {need} ids");
        for (int r = 0; r < batch; r++)
        {
            if (_cursor == WindowsPerEpoch) StartEpoch(_epoch + 1);
            int start = _phase + _order[_cursor++] * l;
            _tokens.AsSpan(start, l).CopyTo(inputs.Slice(r * l, l));
            _tokens.AsSpan(start + 1, l).CopyTo(targets.Slice(r * l, l));
        }
    }

    /// <summary>The first token of each training window of the current epoch, in serving order (for tests and tools).</summary>
    public IEnumerable<int> EpochWindowStarts() => _order.Select(i => _phase + i * SequenceLength);

    /// <inheritdoc/>
    public void ValidationBatch(int firstRow, int rows, Span<int> inputs, Span<int> targets)
    {
        if (firstRow < 0 || rows < 0 || firstRow + rows > ValidationRows)
            throw new ArgumentOutOfRangeException(nameof(rows), $"rows {firstRow}..{firstRow + rows - 1} are outside the {ValidationRows} validation rows");
        int l = SequenceLength;
        long need = (long)rows * l;
        if (inputs.Length < need || targets.Length < need)
            throw new ArgumentException($"inputs and targets must hold rows * SequenceLength = {need} ids");
        for (int r = 0; r < rows; r++)
        {
            int start = _validationStart + (firstRow + r) * l;
            for (int i = 0; i < l; i++)
            {
                int t = start + i;
                bool real = t + 1 < _tokens.Length;
                inputs[r * l + i] = real ? _tokens[t] : 0;
                targets[r * l + i] = real ? _tokens[t + 1] : -1;
            }
        }
    }

    /// <inheritdoc/>
    public byte[] SaveState()
    {
        var state = new byte[StateBytes];
        var s = state.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(s, StateMagic);
        BinaryPrimitives.WriteInt32LittleEndian(s[4..], StateVersion);
        _hash.CopyTo(s[8..]);
        BinaryPrimitives.WriteUInt64LittleEndian(s[40..], _seed);
        BinaryPrimitives.WriteInt64LittleEndian(s[48..], _epoch);
        BinaryPrimitives.WriteInt64LittleEndian(s[56..], _cursor);
        return state;
    }

    /// <inheritdoc/>
    public void RestoreState(ReadOnlySpan<byte> state)
    {
        if (state.Length != StateBytes || BinaryPrimitives.ReadUInt32LittleEndian(state) != StateMagic)
            throw new ArgumentException("not a TextDataset state", nameof(state));
        int version = BinaryPrimitives.ReadInt32LittleEndian(state[4..]);
        if (version != StateVersion) throw new ArgumentException($"TextDataset state version {version} is not {StateVersion}", nameof(state));
        if (!state.Slice(8, 32).SequenceEqual(_hash))
            throw new ArgumentException("the state belongs to other data (the token stream, sequence length or validation split differ)", nameof(state));
        ulong seed = BinaryPrimitives.ReadUInt64LittleEndian(state[40..]);
        long epoch = BinaryPrimitives.ReadInt64LittleEndian(state[48..]);
        long cursor = BinaryPrimitives.ReadInt64LittleEndian(state[56..]);
        if (epoch < 0 || cursor < 0 || cursor > WindowsPerEpoch)
            throw new ArgumentException($"the state's cursor (epoch {epoch}, row {cursor}) is out of range", nameof(state));
        _seed = seed;
        StartEpoch(epoch);
        _cursor = (int)cursor;
    }

    private void StartEpoch(long epoch)
    {
        // One generator per epoch, from (seed, epoch): an epoch's order never depends on how earlier ones were consumed.
        var rng = new Xoshiro256StarStar(_seed ^ (0x9E3779B97F4A7C15UL * (ulong)(epoch + 1)));
        int l = SequenceLength;
        int maxPhase = Math.Min(l - 1, _trainLength - 1 - WindowsPerEpoch * l);
        _phase = (int)(rng.NextUInt64() % (ulong)(maxPhase + 1));
        if (_order.Length != WindowsPerEpoch) _order = new int[WindowsPerEpoch];
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        for (int i = _order.Length - 1; i > 0; i--)
        {
            int j = (int)(rng.NextUInt64() % (ulong)(i + 1));
            (_order[i], _order[j]) = (_order[j], _order[i]);
        }
        _epoch = epoch;
        _cursor = 0;
    }

    private static byte[] HashOf(int[] tokens, int sequenceLength, int validationStart)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteInt32LittleEndian(header, sequenceLength);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], validationStart);
        sha.AppendData(header);
        if (BitConverter.IsLittleEndian) sha.AppendData(MemoryMarshal.AsBytes(tokens.AsSpan()));
        else
            foreach (int t in tokens)
            {
                BinaryPrimitives.WriteInt32LittleEndian(header, t);
                sha.AppendData(header[..4]);
            }
        return sha.GetHashAndReset();
    }
}
