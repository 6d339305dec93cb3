// dotnet run -c Release --project tests/BitNet.Benchmarks -- --filter '*Pool*' --job short --inProcess
// (add -p:BitNetNativeDir=<folder with libbitnet> to use another native build)
using BenchmarkDotNet.Running;

BenchmarkSwitcher.FromAssembly(typeof(BitNet.Benchmarks.PoolBenchmarks).Assembly).Run(args);
