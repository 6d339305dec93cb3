namespace BitNet;

/// <summary>A snapshot of a pool's counters (<c>bn_pool_stats</c>).</summary>
/// <param name="BytesInUse">Bytes of the blocks handed out and not freed (block sizes, not requested sizes).</param>
/// <param name="BytesPeak">The highest <paramref name="BytesInUse"/> seen.</param>
/// <param name="BytesReserved">Bytes the pool holds from the OS, in use or cached.</param>
/// <param name="Allocations">Successful allocations.</param>
/// <param name="Frees">Successful frees.</param>
/// <param name="BadFrees">Frees refused because the pointer was not live in this pool.</param>
public sealed record PoolStats(ulong BytesInUse, ulong BytesPeak, ulong BytesReserved, ulong Allocations, ulong Frees, ulong BadFrees);

/// <summary>A snapshot of one size class of a pool (<c>bn_pool_class_stats</c>).</summary>
/// <param name="Allocations">Successful allocations in this class.</param>
/// <param name="Frees">Successful frees in this class.</param>
/// <param name="CacheHits">Allocations served from a thread cache or a cached block.</param>
/// <param name="CacheMisses">Allocations that had to refill from the shared pool or the OS.</param>
/// <param name="BytesInUse">Bytes of this class's blocks handed out and not freed.</param>
public sealed record PoolClassStats(ulong Allocations, ulong Frees, ulong CacheHits, ulong CacheMisses, ulong BytesInUse);
