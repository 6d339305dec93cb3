namespace BitNet.Training;

/// <summary>Which float buffer of a trainer tensor <c>BitNetTrainer.ReadTensor</c> and
/// <see cref="BitNetTrainer.WriteTensor"/> address (<c>bn_train_buffer</c>).</summary>
public enum TrainBuffer
{
    /// <summary>The float32 master weights.</summary>
    Parameters = 0,
    /// <summary>The accumulated gradients.</summary>
    Gradients = 1,
    /// <summary>AdamW's first moment m, or SGD's momentum buffer.</summary>
    FirstMoment = 2,
    /// <summary>AdamW's second moment v (unused by SGD).</summary>
    SecondMoment = 3,
}
