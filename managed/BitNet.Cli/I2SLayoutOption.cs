using System.CommandLine;
using BitNet.Inference;
using BitNet.Models;
using BitNet.Quantization;

namespace BitNet.Cli;

/// <summary>`--i2s-layout x86|arm` on the commands that run a model: the layout of a GGUF file's I2_S projections,
/// which the file does not record. Without it <see cref="BitNetModel.Load"/> probes both layouts, and the command logs
/// the outcome on stderr.</summary>
internal static class I2SLayoutOption
{
    /// <summary>A new option called <paramref name="name"/>.</summary>
    public static Option<string?> Create(string name = "--i2s-layout", string? description = null)
    {
        var option = new Option<string?>(name)
        {
            Description = description ?? "Layout of the model's I2_S tensors, as bitnet.cpp's x86 or ARM builds write them " +
                "(default: detected by running a probe text through both; this machine's when that cannot decide)",
        };
        option.AcceptOnlyFromAmong("x86", "arm");
        return option;
    }

    /// <summary>The layout the option names, or null when it was not given.</summary>
    public static PackedFormat? Parse(string? value) => value switch
    {
        "x86" => PackedFormat.I2SX86,
        "arm" => PackedFormat.I2SArm,
        _ => null,
    };

    /// <summary>Loads the model with the option's layout and logs a layout the command did not give.</summary>
    public static BitNetModel Load(CliContext cli, string path, string? layout, ModelLoadOptions? fileOptions = null)
    {
        fileOptions ??= ModelLoadOptions.Default;
        var model = BitNetModel.Load(path, new ModelOptions { FileOptions = fileOptions with { I2SLayout = Parse(layout) } });
        if (model.I2SLayout is { Source: not I2SLayoutSource.Given } decision) cli.Error.WriteLine(decision.Reason);
        return model;
    }
}
