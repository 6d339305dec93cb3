using BitNet.Cli;

namespace BitNet.Tests.Cli;

/// <summary>Runs the `bitnet` command line in process, as the tests of every command do.</summary>
internal static class CliRun
{
    /// <summary>The exit code, stdout and stderr of <c>bitnet ARGS</c>.</summary>
    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = CliApplication.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }
}
