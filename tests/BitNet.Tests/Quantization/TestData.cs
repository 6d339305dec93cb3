namespace BitNet.Tests.Quantization;

/// <summary>Seeded random tensors for the quantization tests.</summary>
internal static class TestData
{
    /// <summary>n normal values with standard deviation sigma (Box-Muller), reproducible from the seed.</summary>
    public static float[] Gaussian(int n, int seed, float sigma = 1f)
    {
        var rng = new Random(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
        {
            double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
            x[i] = (float)(sigma * Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
        return x;
    }

    /// <summary>n ternary codes; about a third of each, and whole runs of zeros where zeroRuns says.</summary>
    public static sbyte[] TernaryCodes(int n, int seed, int zeroRunStart = -1, int zeroRunLength = 0)
    {
        var rng = new Random(seed);
        var q = new sbyte[n];
        for (int i = 0; i < n; i++) q[i] = (sbyte)(rng.Next(3) - 1);
        if (zeroRunStart >= 0) Array.Clear(q, zeroRunStart, zeroRunLength);
        return q;
    }
}
