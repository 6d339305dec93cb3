using BitNet.Training;

namespace BitNet.Cli.Training;

/// <summary>The loss curve of a run as a PNG (ScottPlot over SkiaSharp): training loss per step (thin), its exponential
/// moving average (α = 0.1, what one reads the trend from), and the validation loss where it was measured, against the
/// optimizer step.</summary>
internal static class LossPlot
{
    /// <summary>Writes the curve of <paramref name="history"/> to <paramref name="path"/> (temporary name, then rename).</summary>
    public static void Save(IReadOnlyList<TrainingStepRecord> history, string path, string title, int width = 900, int height = 540)
    {
        var plot = new ScottPlot.Plot();
        double[] steps = history.Select(h => (double)h.Step).ToArray();
        double[] loss = history.Select(h => h.TrainLoss).ToArray();
        if (steps.Length > 0)
        {
            var raw = plot.Add.ScatterLine(steps, loss);
            raw.LegendText = "train";
            raw.LineWidth = 1;
            raw.Color = ScottPlot.Colors.SteelBlue.WithAlpha(0.45);

            var ema = new double[loss.Length];
            for (int i = 0; i < loss.Length; i++) ema[i] = i == 0 ? loss[0] : 0.9 * ema[i - 1] + 0.1 * loss[i];
            var smooth = plot.Add.ScatterLine(steps, ema);
            smooth.LegendText = "train (EMA 0.1)";
            smooth.LineWidth = 2;
            smooth.Color = ScottPlot.Colors.SteelBlue;
        }
        var val = history.Where(h => h.ValidationLoss is not null).ToArray();
        if (val.Length > 0)
        {
            var v = plot.Add.Scatter(val.Select(h => (double)h.Step).ToArray(), val.Select(h => h.ValidationLoss!.Value).ToArray());
            v.LegendText = "validation";
            v.LineWidth = 2;
            v.MarkerSize = 6;
            v.Color = ScottPlot.Colors.OrangeRed;
        }
        plot.Title(title);
        plot.XLabel("optimizer step");
        plot.YLabel("cross-entropy (nats)");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);

        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileNameWithoutExtension(full)}.tmp-{Environment.ProcessId}.png");
        try
        {
            plot.SavePng(temp, width, height);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
