using BitNet.Quantization;

namespace BitNet.Tests.Quantization;

public sealed class CalibrationSessionTests
{
    /// <summary>A stand-in for a model: two "layers" whose inputs are x and 2x + 1, reported while an observer is attached.</summary>
    private sealed class TwoLayerTarget : ICalibrationTarget
    {
        private readonly List<IActivationObserver> _observers = [];

        public IReadOnlyList<string> ActivationSites { get; } = ["layers.0.proj", "layers.1.proj"];

        public IDisposable AttachObserver(IActivationObserver observer)
        {
            lock (_observers) _observers.Add(observer);
            return new Detach(() => { lock (_observers) _observers.Remove(observer); });
        }

        public void Forward(float[] x, int tokens, int features)
        {
            IActivationObserver[] observers;
            lock (_observers) observers = [.. _observers];
            foreach (var o in observers) o.Observe(ActivationSites[0], x, tokens, features);
            float[] h = x.Select(v => 2f * v + 1f).ToArray();
            foreach (var o in observers) o.Observe(ActivationSites[1], h, tokens, features);
        }

        private sealed class Detach(Action action) : IDisposable
        {
            public void Dispose() => action();
        }
    }

    [Test]
    public void AnAttachedSessionCalibratesEverySiteOfTheTarget()
    {
        var model = new TwoLayerTarget();
        using var session = new CalibrationSession(new CalibrationOptions { Method = CalibrationMethod.AbsMax, Bins = 256 });
        float[] batch1 = [0.5f, -1.5f, 2f, 0f], batch2 = [-3f, 1f, 0.25f, 0.75f], late = [100f, 0f, 0f, 0f];
        using (session.Attach(model))
        {
            model.Forward(batch1, 2, 2);
            model.Forward(batch2, 1, 4);
        }
        model.Forward(late, 2, 2); // after detaching: not observed

        var clips = session.Compute();
        Assert.Multiple(() =>
        {
            Assert.That(session.Sites, Is.EquivalentTo(model.ActivationSites));
            Assert.That(clips.Keys, Is.EquivalentTo(model.ActivationSites));
            Assert.That(clips["layers.0.proj"].Clip, Is.EqualTo(3f));
            Assert.That(clips["layers.1.proj"].Clip, Is.EqualTo(5f)); // |2 * -3 + 1|
            Assert.That(clips["layers.0.proj"].Count, Is.EqualTo(8));
            Assert.That(session["layers.1.proj"].Bins, Is.EqualTo(256));
        });
    }

    [Test]
    public void SitesWithoutObservationsAreLeftOutAndDisposeFreesTheCalibrators()
    {
        var model = new TwoLayerTarget();
        var session = new CalibrationSession();
        using (session.Attach(model)) { }
        session.Observe("extra", [1f, -4f], 1, 2);
        var clips = session.Compute();
        Assert.Multiple(() =>
        {
            Assert.That(session.Sites, Has.Count.EqualTo(3));
            Assert.That(clips.Keys, Is.EqualTo(new[] { "extra" }));
            Assert.That(clips["extra"].Clip, Is.LessThanOrEqualTo(4f).And.GreaterThan(3.99f), "99.99th percentile of two values");
        });
        var calibrator = session["extra"];
        session.Dispose();
        Assert.Throws<ObjectDisposedException>(() => calibrator.Observe([1f]));
        Assert.Throws<ObjectDisposedException>(() => session.Observe("new", [1f], 1, 1));
    }
}
