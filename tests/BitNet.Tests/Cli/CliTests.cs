using System.Diagnostics;
using System.Text.Json;
using BitNet.Cli;
using BitNet.Interop;

namespace BitNet.Tests.Cli;

/// <summary>The `bitnet` command: in process (always), and the NativeAOT binary at artifacts/bin/bitnet when a build
/// left one there.</summary>
public sealed class CliTests
{
    private static (int Exit, string Out, string Err) RunInProcess(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int exit = CliApplication.Run(args, stdout, stderr);
        return (exit, stdout.ToString(), stderr.ToString());
    }

    private static (int Exit, string Out, string Err) RunPublished(params string[] args)
    {
        string exe = RepositoryPaths.PublishedCli;
        if (!File.Exists(exe)) Assert.Ignore($"{exe} does not exist: ./build.sh publishes the NativeAOT CLI there");
        var start = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args) start.ArgumentList.Add(a);
        using Process p = Process.Start(start)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        Assert.That(p.WaitForExit(60_000), Is.True, "bitnet finished within a minute");
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    private static void AssertInfoJson(int exit, string stdout, string stderr)
    {
        Assert.That(exit, Is.EqualTo(0), stderr);
        using JsonDocument doc = JsonDocument.Parse(stdout); // exactly one JSON value, nothing else on stdout
        JsonElement r = doc.RootElement;
        JsonElement cpu = r.GetProperty("cpu");
        Assert.Multiple(() =>
        {
            Assert.That(r.GetProperty("native_version_number").GetUInt32(), Is.EqualTo((uint)NativeConstants.BN_VERSION));
            Assert.That(r.GetProperty("abi_version").GetInt32(), Is.EqualTo(NativeConstants.BN_VERSION));
            Assert.That(r.GetProperty("native_version").GetString(), Is.EqualTo(NativeVersion.Text));
            Assert.That(cpu.GetProperty("name").GetString(), Is.EqualTo(CpuInfo.Name));
            Assert.That(cpu.GetProperty("features").EnumerateArray().Select(e => e.GetString()),
                Is.EqualTo(CpuInfo.FeatureNames(CpuInfo.Features)));
            Assert.That(cpu.GetProperty("enabled_features").EnumerateArray().Select(e => e.GetString()),
                Is.EqualTo(CpuInfo.FeatureNames(CpuInfo.EnabledFeatures)));
            Assert.That(r.GetProperty("kernels").EnumerateArray().Select(k => (k.GetProperty("op").GetString()!, k.GetProperty("impl").GetString()!)),
                Is.EqualTo(CpuInfo.Kernels));
            Assert.That(r.GetProperty("threads").GetProperty("logical_cores").GetInt32(), Is.EqualTo(CpuInfo.LogicalCores));
            Assert.That(r.GetProperty("threads").GetProperty("default_threads").GetInt32(), Is.EqualTo(CpuInfo.LogicalCores));
            Assert.That(r.GetProperty("pool").GetProperty("stats").GetProperty("bad_frees").GetUInt64(), Is.Zero);
            Assert.That(r.GetProperty("pool").GetProperty("classes").EnumerateObject().Select(p => p.Name),
                Is.EqualTo(new[] { "small", "medium", "large" }));
            Assert.That(stderr, Is.Empty);
        });
    }

    private static void AssertUnknownCommand(int exit, string stdout, string stderr)
    {
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(ExitCodes.UsageError));
            Assert.That(stdout, Is.Empty);
            string[] lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.That(lines, Has.Length.EqualTo(1), "one line on stderr");
            Assert.That(lines.FirstOrDefault(), Does.StartWith("error: ").And.Contain("'nosuchcommand'"));
        });
    }

    [Test]
    public void InfoJsonInProcess()
    {
        var (exit, stdout, stderr) = RunInProcess("info", "--json");
        AssertInfoJson(exit, stdout, stderr);
        Assert.That(JsonDocument.Parse(stdout).RootElement.GetProperty("native_library").GetString(), Is.EqualTo(NativeLibraryResolver.LoadedPath));
    }

    [Test]
    public void InfoTablesNameTheCpuAndEveryKernel()
    {
        var (exit, stdout, stderr) = RunInProcess("info");
        Assert.That(exit, Is.EqualTo(0), stderr);
        Assert.Multiple(() =>
        {
            Assert.That(stdout, Does.Contain(NativeVersion.Text));
            Assert.That(stdout, Does.Contain(CpuInfo.Name.Length > 20 ? CpuInfo.Name[..20] : CpuInfo.Name));
            foreach ((string op, string impl) in CpuInfo.Kernels) Assert.That(stdout, Does.Contain(op).And.Contain(impl));
            Assert.That(stdout, Does.Not.Contain("\u001b["), "no ANSI codes when stdout is not a terminal");
        });
    }

    [Test]
    public void UnknownCommandInProcess()
    {
        var (exit, stdout, stderr) = RunInProcess("nosuchcommand");
        AssertUnknownCommand(exit, stdout, stderr);
    }

    [Test]
    public void UnknownOptionAndMissingCommandAreOneLineUsageErrors()
    {
        var (exit, stdout, stderr) = RunInProcess("info", "--no-such-option");
        var (exitNone, _, stderrNone) = RunInProcess();
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(ExitCodes.UsageError));
            Assert.That(stdout, Is.Empty);
            Assert.That(stderr.TrimEnd('\n'), Does.StartWith("error: ").And.Contain("--no-such-option").And.Not.Contain("\n"));
            Assert.That(exitNone, Is.EqualTo(ExitCodes.UsageError));
            Assert.That(stderrNone.TrimEnd('\n'), Does.StartWith("error: ").And.Not.Contain("\n"));
        });
    }

    [Test]
    public void PublishedBinaryInfoJson()
    {
        var (exit, stdout, stderr) = RunPublished("info", "--json");
        AssertInfoJson(exit, stdout, stderr);
    }

    [Test]
    public void PublishedBinaryInfoTables()
    {
        var (exit, stdout, stderr) = RunPublished("info");
        Assert.Multiple(() =>
        {
            Assert.That(exit, Is.EqualTo(0), stderr);
            Assert.That(stdout, Does.Contain("Kernels").And.Contain(NativeVersion.Text));
        });
    }

    [Test]
    public void PublishedBinaryUnknownCommand()
    {
        var (exit, stdout, stderr) = RunPublished("nosuchcommand");
        AssertUnknownCommand(exit, stdout, stderr);
    }
}
