using System.CommandLine;
using System.Globalization;
using BitNet.Models;
using BitNet.Tokenization;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet tokenize -m PATH_OR_TOKENIZER_JSON [--add-bos] [--parse-special] -- TEXT` (CLI.md): prints the ids as
/// one JSON array on stdout. No BOS by default; special-token text is plain text unless --parse-special.</summary>
internal static class TokenizeCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model", "-m")
        {
            Description = "A GGUF file, a model folder with tokenizer.json, or a bare tokenizer.json",
            Required = true,
        };
        var addBos = new Option<bool>("--add-bos") { Description = "Prepend the BOS token" };
        var parseSpecial = new Option<bool>("--parse-special") { Description = "Treat special-token text in TEXT as those tokens" };
        var text = new Argument<string[]>("TEXT") { Description = "The text (after --); several arguments are joined with spaces", Arity = ArgumentArity.OneOrMore };
        var command = new Command("tokenize", "Print the token ids of a text as one JSON array") { model, addBos, parseSpecial, text };
        command.SetAction(parse =>
        {
            BpeTokenizer tokenizer = BitNetModelFile.OpenTokenizer(parse.GetValue(model)!);
            bool bos = parse.GetValue(addBos);
            if (bos && tokenizer.BosId is null) throw new CommandException($"--add-bos: the tokenizer of {tokenizer.Source} has no BOS token");
            int[] ids = tokenizer.Encode(string.Join(' ', parse.GetValue(text)!),
                new EncodeOptions { AddBos = bos, ParseSpecial = parse.GetValue(parseSpecial) });
            cli.Out.WriteLine(FormatIds(ids));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>"[9906, 1917]".</summary>
    internal static string FormatIds(IEnumerable<int> ids) =>
        "[" + string.Join(", ", ids.Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]";
}
