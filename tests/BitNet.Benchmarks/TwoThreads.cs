namespace BitNet.Benchmarks;

/// <summary>Runs one piece of work on the calling thread and one on a helper thread that lives as long as this object,
/// both released together and awaited together, so that a benchmark measures the work and not thread start-up.</summary>
internal sealed class TwoThreads : IDisposable
{
    private readonly Barrier _barrier = new(2);
    private readonly Thread _helper;
    private Action<int>? _work;
    private volatile bool _stop;

    public TwoThreads()
    {
        _helper = new Thread(Loop) { IsBackground = true, Name = "benchmark helper" };
        _helper.Start();
    }

    /// <summary>Runs work(0) here and work(1) on the helper; returns when both are done.</summary>
    public void Run(Action<int> work)
    {
        _work = work;
        _barrier.SignalAndWait(); // start
        work(0);
        _barrier.SignalAndWait(); // both done
    }

    private void Loop()
    {
        while (true)
        {
            _barrier.SignalAndWait();
            if (_stop) return;
            _work!(1);
            _barrier.SignalAndWait();
        }
    }

    public void Dispose()
    {
        _stop = true;
        _barrier.SignalAndWait();
        _helper.Join();
        _barrier.Dispose();
    }
}
