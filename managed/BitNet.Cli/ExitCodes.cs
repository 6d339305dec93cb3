namespace BitNet.Cli;

/// <summary>The exit codes of `bitnet`.</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The command ran and failed (bad input file, native error, I/O error).</summary>
    public const int Failure = 1;

    /// <summary>The command line did not parse (unknown command or option, missing or malformed value).</summary>
    public const int UsageError = 2;
}
