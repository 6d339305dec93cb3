using System.CommandLine;
using System.Text.Json;
using BitNet.Interop;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet info [--json]`: versions, CPU features, the kernels dispatch chose, thread counts, pool counters.</summary>
internal static class InfoCommand
{
    public static Command Create(CliContext cli)
    {
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of tables" };
        var command = new Command("info", "Print the versions, CPU features, chosen kernels, thread counts and memory pool statistics")
        {
            json,
        };
        command.SetAction(parse =>
        {
            InfoReport report = Collect();
            if (parse.GetValue(json)) cli.Out.WriteLine(JsonSerializer.Serialize(report, CliJsonContext.Default.InfoReport));
            else Render(cli.Console, report);
            return ExitCodes.Success;
        });
        return command;
    }

    internal static InfoReport Collect()
    {
        NativeVersion.EnsureCompatible();
        int defaultThreads;
        using (var threads = new NativeThreadPool()) defaultThreads = threads.Size;
        NativeMemoryPool pool = NativeMemoryPool.Shared;
        var classes = new Dictionary<string, PoolClassStats>
        {
            ["small"] = pool.ClassStats(BnSizeClass.Small),
            ["medium"] = pool.ClassStats(BnSizeClass.Medium),
            ["large"] = pool.ClassStats(BnSizeClass.Large),
        };
        return new InfoReport(
            Version: typeof(NativeMemoryPool).Assembly.GetName().Version?.ToString(3) ?? "unknown",
            NativeVersion: BitNet.NativeVersion.Text,
            NativeVersionNumber: BitNet.NativeVersion.Number,
            AbiVersion: NativeConstants.BN_VERSION,
            NativeLibrary: NativeLibraryLocation(),
            Cpu: new CpuReport(CpuInfo.Name, CpuInfo.FeatureNames(CpuInfo.Features), CpuInfo.FeatureNames(CpuInfo.EnabledFeatures)),
            Kernels: CpuInfo.Kernels.Select(k => new KernelReport(k.Op, k.Impl)).ToList(),
            Threads: new ThreadReport(CpuInfo.LogicalCores, defaultThreads),
            Pool: new PoolReport(pool.Stats, classes));
    }

    private static string NativeLibraryLocation()
    {
#if BITNET_STATIC_LIBBITNET
        return "static";
#else
        return NativeLibraryResolver.LoadedPath ?? "default search path";
#endif
    }

    private static void Render(IAnsiConsole console, InfoReport r)
    {
        var versions = KeyValueTable("BitNet");
        AddRow(versions, "bitnet (managed)", r.Version);
        AddRow(versions, "libbitnet", $"{r.NativeVersion} ({r.NativeVersionNumber}), bindings for {r.AbiVersion}");
        AddRow(versions, "library", r.NativeLibrary == "static" ? "linked into this executable" : r.NativeLibrary);
        console.Write(versions);

        var cpu = KeyValueTable("CPU");
        AddRow(cpu, "name", r.Cpu.Name);
        AddRow(cpu, "features", Join(r.Cpu.Features));
        AddRow(cpu, "enabled", Join(r.Cpu.EnabledFeatures));
        AddRow(cpu, "logical cores", r.Threads.LogicalCores.ToString(System.Globalization.CultureInfo.InvariantCulture));
        AddRow(cpu, "default threads", r.Threads.DefaultThreads.ToString(System.Globalization.CultureInfo.InvariantCulture));
        console.Write(cpu);

        var kernels = new Table { Title = new TableTitle("Kernels"), Border = TableBorder.Rounded };
        kernels.AddColumn("op");
        kernels.AddColumn("implementation");
        foreach (KernelReport k in r.Kernels) kernels.AddRow(new Text(k.Op), new Text(k.Impl, new Style(Color.Green)));
        console.Write(kernels);

        var pool = new Table { Title = new TableTitle("Memory pool (shared)"), Border = TableBorder.Rounded };
        pool.AddColumn("class");
        foreach (string column in new[] { "allocations", "frees", "cache hits", "cache misses", "bytes in use" })
            pool.AddColumn(new TableColumn(column).RightAligned());
        foreach ((string name, PoolClassStats c) in r.Pool.Classes)
            pool.AddRow(Cells(name, c.Allocations, c.Frees, c.CacheHits, c.CacheMisses, c.BytesInUse));
        PoolStats s = r.Pool.Stats;
        pool.AddRow(Cells("total", s.Allocations, s.Frees, null, null, s.BytesInUse));
        pool.Caption = new TableTitle($"peak {Bytes(s.BytesPeak)} in use, {Bytes(s.BytesReserved)} reserved, {s.BadFrees} bad frees");
        console.Write(pool);
    }

    private static Table KeyValueTable(string title)
    {
        var table = new Table { Title = new TableTitle(title), Border = TableBorder.Rounded, ShowHeaders = false };
        table.AddColumn("key");
        table.AddColumn("value");
        return table;
    }

    private static void AddRow(Table table, string key, string value) =>
        table.AddRow(new Text(key, new Style(decoration: Decoration.Bold)), new Text(value));

    private static IRenderable[] Cells(string name, params ulong?[] values) =>
        [new Text(name), .. values.Select(v => (IRenderable)new Text(v?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? ""))];

    private static string Join(IReadOnlyList<string> names) => names.Count == 0 ? "(none)" : string.Join(' ', names);

    private static string Bytes(ulong n) => n switch
    {
        >= 1UL << 30 => $"{n / (double)(1UL << 30):0.#} GiB",
        >= 1UL << 20 => $"{n / (double)(1UL << 20):0.#} MiB",
        >= 1UL << 10 => $"{n / 1024.0:0.#} KiB",
        _ => $"{n} B",
    };
}
