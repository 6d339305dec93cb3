using System.Text.Json.Serialization;
using BitNet.Cli.Commands;

namespace BitNet.Cli;

/// <summary>The JSON that commands print with --json: source-generated (no reflection, so NativeAOT keeps it whole),
/// snake_case names, indented. Every type a command serialises is listed here.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(InfoReport))]
[JsonSerializable(typeof(InspectReport))]
[JsonSerializable(typeof(BenchReport))]
[JsonSerializable(typeof(EvalReport))]
internal sealed partial class CliJsonContext : JsonSerializerContext;
