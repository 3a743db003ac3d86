using BenchmarkDotNet.Attributes;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansBroker.Messages;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// The serializer on the two paths every message takes: into a segment record (storage) and out as a
/// batch of deliveries (the wire to a consumer). 100 messages of 1 KiB per operation.
/// </summary>
[MemoryDiagnoser]
public class SerializerBenchmarks
{
    private const int Count = 100;
    private IGrainStorageSerializer _storage = null!;
    private Serializer _wire = null!;
    private SegmentRecord _segment = null!;
    private BinaryData _segmentBytes = null!;
    private List<Delivery> _deliveries = null!;

    /// <summary>Whether the messages carry a trace context (one headers dictionary shared by the batch, as a traced publish sends them).</summary>
    [Params(false, true)]
    public bool Traced { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _storage = BenchData.StorageSerializer;
        _wire = BenchData.Serializer;
        var messages = BenchData.Messages(1, Count, 1024, Traced);
        _segment = new SegmentRecord { Messages = messages };
        _segmentBytes = _storage.Serialize(_segment);
        _deliveries = messages.Select(m => new Delivery("q", m.MessageId, m.Sequence, m.Body, m.ContentType, m.Headers, m.RoutingKey, m.EnqueuedAt, 1, m.Sequence, m.EnqueuedAt)).ToList();
        Console.WriteLine($"// Traced={Traced}: segment record {_segmentBytes.ToMemory().Length} bytes, delivery batch {_wire.SerializeToArray(_deliveries).Length} bytes");
    }

    [Benchmark(Description = "segment record, serialize (100 x 1 KiB)")]
    public BinaryData SerializeSegment() => _storage.Serialize(_segment);

    [Benchmark(Description = "segment record, deserialize (100 x 1 KiB)")]
    public int DeserializeSegment() => _storage.Deserialize<SegmentRecord>(_segmentBytes)!.Messages.Count;

    [Benchmark(Description = "delivery batch, serialize (100 x 1 KiB)")]
    public byte[] SerializeDeliveries() => _wire.SerializeToArray(_deliveries);
}
