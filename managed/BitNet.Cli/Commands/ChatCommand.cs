using System.CommandLine;
using System.Globalization;
using BitNet.Inference;
using BitNet.Inference.Sampling;
using BitNet.Tokenization;

namespace BitNet.Cli.Commands;

/// <summary>`bitnet chat -m MODEL [--system TEXT] [-n 512] [--temp 0.8] [--top-k 40] [--top-p 0.95] [--min-p 0.05]
/// [--seed S] [--threads N]`: an interactive conversation in the model's chat format: the Jinja chat template its
/// files carry, else the bitnet-b1.58-2B-4T format with a warning (<see cref="ChatTemplate.For"/>). Each line read from
/// stdin is a user message; the reply streams to stdout; the prompt marker and timings go to stderr. The KV cache
/// keeps the conversation, so each turn only runs its own tokens (with a template: the text the whole conversation
/// renders to beyond what the cache holds; when the template rewrites earlier turns, the conversation is run again).
/// <c>/reset</c> starts over; <c>/exit</c> or end of input quits. When the context is full the conversation starts over
/// (the system message is kept).</summary>
internal static class ChatCommand
{
    public static Command Create(CliContext cli)
    {
        var d = GenerationOptions.Default;
        var model = new Option<string>("--model", "-m") { Description = "A GGUF file or a Hugging Face model folder (with a tokenizer)", Required = true };
        var system = new Option<string?>("--system") { Description = "A system message that opens the conversation" };
        var count = new Option<int>("-n", "--n-predict") { Description = "The most tokens per reply", DefaultValueFactory = _ => 512 };
        var temp = new Option<float>("--temp") { Description = "Temperature (0: greedy)", DefaultValueFactory = _ => d.Temperature };
        var topK = new Option<int>("--top-k") { Description = "Top-k (0: off)", DefaultValueFactory = _ => d.TopK };
        var topP = new Option<float>("--top-p") { Description = "Top-p (1: off)", DefaultValueFactory = _ => d.TopP };
        var minP = new Option<float>("--min-p") { Description = "Min-p (0: off)", DefaultValueFactory = _ => d.MinP };
        var seed = new Option<ulong?>("--seed") { Description = "Sampler seed (default: random)" };
        var threads = new Option<int?>("--threads") { Description = "Threads (default: one per physical core)" };
        var layout = I2SLayoutOption.Create();
        var command = new Command("chat", "Chat with a model interactively (one line per message; /reset, /exit)")
        {
            model, system, count, temp, topK, topP, minP, seed, threads, layout,
        };
        command.SetAction(async (parse, ct) =>
        {
            int n = parse.GetValue(count);
            if (n <= 0) throw new CommandException("-n must be at least 1");
            float t = parse.GetValue(temp), p = parse.GetValue(topP), mp = parse.GetValue(minP);
            if (!(t >= 0)) throw new CommandException("--temp must be 0 or more");
            if (!(p > 0 && p <= 1)) throw new CommandException("--top-p must be in (0, 1]");
            if (!(mp >= 0 && mp <= 1)) throw new CommandException("--min-p must be in [0, 1]");
            int? threadCount = parse.GetValue(threads);
            if (threadCount is <= 0) throw new CommandException("--threads must be at least 1");
            using var m = I2SLayoutOption.Load(cli, parse.GetValue(model)!, parse.GetValue(layout));
            BpeTokenizer tokenizer = m.Tokenizer ?? throw new CommandException($"{m.File.Path} has no tokenizer");
            ChatTemplate template;
            try
            {
                template = ChatTemplate.For(tokenizer);
            }
            catch (BitNet.Tokenization.Jinja.TemplateException e)
            {
                throw new CommandException($"the chat template of {m.File.Path} cannot be used: {e.Message}");
            }
            string? systemText = parse.GetValue(system);
            if (!template.IsFallback)
                return await TemplateChatAsync(cli, m, tokenizer, template, systemText, n, t, p, mp, parse.GetValue(topK), parse.GetValue(seed), threadCount, ct);
            int eot = tokenizer.TokenToId(ChatTemplate.EndOfTurn)
                      ?? throw new CommandException($"{m.File.Path} has no chat template and its tokenizer has no {ChatTemplate.EndOfTurn} token, so it has no chat format this command knows");
            cli.Error.WriteLine($"warning: {template.Note ?? $"{m.File.Path} has no chat template"}; using the bitnet-b1.58-2B-4T format (User: ...<|eot_id|>Assistant:)");
            using var session = m.CreateSession(new SessionOptions { Threads = threadCount });
            var options = new GenerationOptions
            {
                MaxTokens = n, Temperature = t, TopK = parse.GetValue(topK), TopP = p, MinP = mp, Seed = parse.GetValue(seed),
                StopTokenIds = [eot],
            };
            bool started = false, closed = true;
            while (!ct.IsCancellationRequested)
            {
                cli.Error.Write("> ");
                cli.Error.Flush();
                string? line = await cli.In.ReadLineAsync(ct);
                if (line is null || line.Trim() == "/exit") break;
                if (line.Trim() == "/reset")
                {
                    session.Reset();
                    started = false;
                    closed = true;
                    continue;
                }
                if (line.Length == 0) continue;
                var ids = new List<int>();
                if (!started)
                {
                    var opening = new List<ChatMessage>();
                    if (!string.IsNullOrEmpty(systemText)) opening.Add(new ChatMessage(ChatRole.System, systemText));
                    opening.Add(new ChatMessage(ChatRole.User, line));
                    ids.AddRange(ChatTemplate.Encode(tokenizer, opening));
                }
                else
                {
                    if (!closed) ids.Add(eot); // the last reply ended without its end-of-turn token
                    tokenizer.Encode("User: " + line, ids);
                    ids.Add(eot);
                    tokenizer.Encode("Assistant:", ids);
                }
                if (session.Position + ids.Count + 1 > session.ContextSize)
                {
                    if (!started) throw new CommandException($"the message is {ids.Count} tokens; the context holds {session.ContextSize}");
                    cli.Error.WriteLine("(context full: starting the conversation over)");
                    session.Reset();
                    started = false;
                    closed = true;
                    ids.Clear();
                    var opening = new List<ChatMessage>();
                    if (!string.IsNullOrEmpty(systemText)) opening.Add(new ChatMessage(ChatRole.System, systemText));
                    opening.Add(new ChatMessage(ChatRole.User, line));
                    ids.AddRange(ChatTemplate.Encode(tokenizer, opening));
                }
                started = true;
                bool first = true;
                await foreach (string piece in session.GenerateAsync(ids, options, ct))
                {
                    cli.Out.Write(first ? piece.TrimStart() : piece);
                    first = false;
                    cli.Out.Flush();
                }
                cli.Out.WriteLine();
                GenerationResult r = session.LastResult!;
                closed = r.StopReason == StopReason.StopToken && r.TokenIds.Count > 0 && r.TokenIds[^1] == eot;
                cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{r.GeneratedTokens} tokens, {r.DecodeTokensPerSecond:F1} tok/s, context {session.Position}/{session.ContextSize}]"));
            }
            return ExitCodes.Success;
        });
        return command;
    }

    // A conversation in the model's own Jinja template. `fed` is the text the KV cache holds (rendered prompts and
    // the replies as generated, stop token included); each turn runs what the whole conversation now renders to
    // beyond it, or the whole rendering again when the template rewrote the past (trimmed a reply, say).
    private static async Task<int> TemplateChatAsync(CliContext cli, BitNetModel m, BpeTokenizer tokenizer, ChatTemplate template,
        string? systemText, int n, float temp, float topP, float minP, int topK, ulong? seed, int? threads, CancellationToken ct)
    {
        using var session = m.CreateSession(new SessionOptions { Threads = threads });
        var options = new GenerationOptions
        {
            MaxTokens = n, Temperature = temp, TopK = topK, TopP = topP, MinP = minP, Seed = seed,
            StopTokenIds = tokenizer.StopTokenIds.ToArray(),
        };
        var history = new List<ChatMessage>();
        string fed = "";
        void Restart()
        {
            session.Reset();
            history.Clear();
            if (!string.IsNullOrEmpty(systemText)) history.Add(new ChatMessage(ChatRole.System, systemText));
            fed = "";
        }
        string Render()
        {
            try
            {
                return template.Render(history, addGenerationPrompt: true);
            }
            catch (BitNet.Tokenization.Jinja.TemplateException e)
            {
                throw new CommandException($"the chat template of {m.File.Path} failed: {e.Message}");
            }
        }
        Restart();
        while (!ct.IsCancellationRequested)
        {
            cli.Error.Write("> ");
            cli.Error.Flush();
            string? line = await cli.In.ReadLineAsync(ct);
            if (line is null || line.Trim() == "/exit") break;
            if (line.Trim() == "/reset")
            {
                Restart();
                continue;
            }
            if (line.Length == 0) continue;
            history.Add(new ChatMessage(ChatRole.User, line));
            string full = Render();
            if (fed.Length > 0 && !full.StartsWith(fed, StringComparison.Ordinal))
            {
                session.Reset(); // the template rendered the past differently: run it all again
                fed = "";
            }
            int[] ids = ChatTemplate.EncodeText(tokenizer, full[fed.Length..], atStart: fed.Length == 0);
            if (session.Position + ids.Length + 1 > session.ContextSize)
            {
                if (fed.Length == 0) throw new CommandException($"the message is {ids.Length} tokens; the context holds {session.ContextSize}");
                cli.Error.WriteLine("(context full: starting the conversation over)");
                Restart();
                history.Add(new ChatMessage(ChatRole.User, line));
                full = Render();
                ids = ChatTemplate.EncodeText(tokenizer, full, atStart: true);
                if (ids.Length + 1 > session.ContextSize)
                    throw new CommandException($"the message is {ids.Length} tokens; the context holds {session.ContextSize}");
            }
            var reply = new System.Text.StringBuilder();
            bool first = true;
            await foreach (string piece in session.GenerateAsync(ids, options, ct))
            {
                reply.Append(piece);
                cli.Out.Write(first ? piece.TrimStart() : piece);
                first = false;
                cli.Out.Flush();
            }
            cli.Out.WriteLine();
            GenerationResult r = session.LastResult!;
            history.Add(new ChatMessage(ChatRole.Assistant, reply.ToString()));
            fed = full + reply;
            if (r.StopReason == StopReason.StopToken && r.TokenIds.Count > 0) fed += tokenizer.IdToToken(r.TokenIds[^1]);
            cli.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"[{r.GeneratedTokens} tokens, {r.DecodeTokensPerSecond:F1} tok/s, context {session.Position}/{session.ContextSize}]"));
        }
        return ExitCodes.Success;
    }
}
