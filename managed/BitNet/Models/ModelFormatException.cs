using BitNet.Interop;

namespace BitNet.Models;

/// <summary>A model or tensor file is not what it claims to be: wrong magic or version, truncated, a header that
/// points outside the file, an unknown tensor type, a missing tensor, a shape that disagrees with the config.
/// <see cref="BitNetException.Status"/> is <see cref="BnStatus.ErrFormat"/>.</summary>
public sealed class ModelFormatException : BitNetException
{
    /// <summary>Creates the exception for a problem in <paramref name="path"/>.</summary>
    public ModelFormatException(string path, string problem, Exception? inner = null)
        : base(BnStatus.ErrFormat, $"{path}: {problem}", inner)
    {
        FilePath = path;
        Problem = problem;
    }

    /// <summary>The file at fault.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong with it.</summary>
    public string Problem { get; }
}
