using System.CommandLine;
using System.Globalization;
using BitNet.Models;
using BitNet.Training;

namespace BitNet.Cli.Commands;

/// <summary>
/// `bitnet train-step -m MASTER_FOLDER --ids 1,2,... --batch B --optimizer sgd|adamw [--lr 1e-3] [--betas 0.9,0.95]
/// [--eps 1e-8] [--weight-decay 0.1] [--momentum 0] -o OUT.safetensors` (CLI.md): one quantization-aware training step
/// (blend 1: ternary weights and int8 activations with straight-through gradients, as HF BitNet trains). The ids split
/// into B rows of equal length; inputs are row[:-1], targets row[1:]; the loss is the mean next-token cross-entropy over
/// all B·(L-1) targets. One optimizer step (step 1) with every parameter in one group, weight decay applied to all of
/// them (torch.optim.AdamW / SGD defaults), no gradient clipping. Writes F32 <c>loss</c> [1], and for every parameter
/// <c>grad.&lt;HF name&gt;</c> (the gradient the step used) and <c>weights.&lt;HF name&gt;</c> (after the step), shaped
/// as the HF tensor ([n] for norms); the tied embedding / LM head is <c>model.embed_tokens.weight</c>. The file is
/// written under a temporary name and renamed.
/// </summary>
internal static class TrainStepCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model", "-m") { Description = "A Hugging Face master (float) model folder", Required = true };
        var ids = new Option<string>("--ids") { Description = "Token ids, comma-separated, split into --batch rows of equal length", Required = true };
        var batch = new Option<int>("--batch") { Description = "Rows the ids split into", Required = true };
        var optimizer = new Option<string>("--optimizer") { Description = "sgd or adamw", Required = true };
        var lr = new Option<double>("--lr") { Description = "Learning rate", DefaultValueFactory = _ => 1e-3 };
        var betas = new Option<string>("--betas") { Description = "AdamW β1,β2", DefaultValueFactory = _ => "0.9,0.95" };
        var eps = new Option<double>("--eps") { Description = "AdamW ε", DefaultValueFactory = _ => 1e-8 };
        var weightDecay = new Option<double>("--weight-decay") { Description = "Weight decay (AdamW: decoupled; SGD: added to the gradient)", DefaultValueFactory = _ => 0.1 };
        var momentum = new Option<double>("--momentum") { Description = "SGD momentum", DefaultValueFactory = _ => 0.0 };
        var nesterov = new Option<bool>("--nesterov") { Description = "SGD Nesterov momentum" };
        var output = new Option<string>("--output", "-o") { Description = "The safetensors file to write", Required = true };
        var threads = new Option<int?>("--threads") { Description = "Threads (default: one per logical core; results do not depend on it)" };
        var command = new Command("train-step", "Run one training step on token ids and write the loss, gradients and updated weights")
        {
            model, ids, batch, optimizer, lr, betas, eps, weightDecay, momentum, nesterov, output, threads,
        };
        command.SetAction(parse =>
        {
            int b = parse.GetValue(batch);
            if (b < 1) throw new CommandException($"--batch must be at least 1, not {b}");
            int[] all = ParseIds(parse.GetValue(ids)!);
            if (all.Length % b != 0)
                throw new CommandException($"--ids: {all.Length} ids do not split into {b} rows of equal length");
            int rowLength = all.Length / b, t = rowLength - 1;
            if (t < 1) throw new CommandException($"--ids: rows of {rowLength} id(s) have no next token to predict (each row needs at least 2)");
            OptimizerOptions opt = ParseOptimizer(parse.GetValue(optimizer)!, parse.GetValue(betas)!, parse.GetValue(eps),
                parse.GetValue(momentum), parse.GetValue(nesterov));
            double learningRate = parse.GetValue(lr), decay = parse.GetValue(weightDecay);
            if (!double.IsFinite(learningRate) || learningRate < 0) throw new CommandException($"--lr must be a finite number >= 0, not {learningRate}");
            if (!double.IsFinite(decay) || decay < 0) throw new CommandException($"--weight-decay must be a finite number >= 0, not {decay}");
            int? threadCount = parse.GetValue(threads);
            if (threadCount is <= 0) throw new CommandException("--threads must be at least 1");

            string path = parse.GetValue(model)!;
            if (!Directory.Exists(path) && !File.Exists(path)) throw new CommandException($"--model: no such model folder: {path}");
            using BitNetModelFile file = BitNetModelFile.Open(path, new ModelLoadOptions { LoadTokenizer = false });
            ModelConfig config = file.Config;
            if (t > config.MaxPositionEmbeddings)
                throw new CommandException($"--ids: rows of {rowLength} ids give {t} inputs, more than the model's context of {config.MaxPositionEmbeddings}");
            foreach (int id in all)
                if (id >= config.VocabSize) throw new CommandException($"--ids: token id {id} is outside the vocabulary (0..{config.VocabSize - 1})");

            var inputs = new int[b * t];
            var targets = new int[b * t];
            for (int r = 0; r < b; r++)
            {
                Array.Copy(all, r * rowLength, inputs, r * t, t);
                Array.Copy(all, r * rowLength + 1, targets, r * t, t);
            }

            using var pool = new NativeThreadPool(threadCount ?? 0);
            using BitNetTrainer trainer = BitNetTrainer.Create(config, b, t, pool);
            trainer.LoadWeights(file);
            cli.Error.WriteLine($"train-step: {b} row(s) of {t} inputs, {opt.Name}, lr {learningRate.ToString(CultureInfo.InvariantCulture)}, " +
                                $"weight decay {decay.ToString(CultureInfo.InvariantCulture)}");
            trainer.ZeroGradients();
            float loss = trainer.ForwardBackward(inputs, targets, b, t, blend: 1f, gradScale: 1f);
            var writer = new SafetensorsWriter();
            writer.AddSingles("loss", [loss], 1);
            foreach (TrainerTensor tensor in trainer.Tensors)
                writer.AddSingles("grad." + tensor.Name, trainer.ReadTensor(tensor, TrainBuffer.Gradients), tensor.Shape);
            trainer.Step(opt, learningRate, decay, step: 1);
            foreach (TrainerTensor tensor in trainer.Tensors)
                writer.AddSingles("weights." + tensor.Name, trainer.ReadTensor(tensor, TrainBuffer.Parameters), tensor.Shape);
            writer.Save(parse.GetValue(output)!);
            cli.Error.WriteLine($"loss {loss.ToString("R", CultureInfo.InvariantCulture)}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static int[] ParseIds(string text)
    {
        string[] items = text.Split(',', StringSplitOptions.TrimEntries);
        if (items.All(string.IsNullOrEmpty)) throw new CommandException("--ids: no ids given");
        var ids = new int[items.Length];
        for (int i = 0; i < items.Length; i++)
            if (!int.TryParse(items[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
                throw new CommandException($"--ids: '{items[i]}' is not a token id (a non-negative integer)");
        return ids;
    }

    private static OptimizerOptions ParseOptimizer(string name, string betas, double eps, double momentum, bool nesterov)
    {
        switch (name.ToLowerInvariant())
        {
            case "adamw":
                string[] parts = betas.Split(',', StringSplitOptions.TrimEntries);
                if (parts.Length != 2
                    || !double.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out double b1)
                    || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double b2))
                    throw new CommandException($"--betas: '{betas}' is not two numbers 'beta1,beta2'");
                if (b1 is < 0 or >= 1 || b2 is < 0 or >= 1) throw new CommandException($"--betas: each must be in [0, 1), not {betas}");
                if (!(eps > 0) || !double.IsFinite(eps)) throw new CommandException($"--eps must be a positive number, not {eps}");
                return new AdamWOptions { Beta1 = b1, Beta2 = b2, Epsilon = eps };
            case "sgd":
                if (!double.IsFinite(momentum) || momentum < 0) throw new CommandException($"--momentum must be a finite number >= 0, not {momentum}");
                if (nesterov && momentum == 0) throw new CommandException("--nesterov needs a --momentum above 0");
                return new SgdOptions { Momentum = momentum, Nesterov = nesterov };
            default:
                throw new CommandException($"--optimizer: '{name}' is not an optimizer (sgd or adamw)");
        }
    }
}
