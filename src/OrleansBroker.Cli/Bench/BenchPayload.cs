using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace OrleansBroker.Cli.Bench;

/// <summary>
/// A bench message body: producer id, sequence and send time (<see cref="Stopwatch"/> ticks of the
/// bench process, which both sends and receives) in the first <see cref="HeaderBytes"/> bytes, then
/// filler that differs per message. Every body is an array of its own, as real producers send.
/// </summary>
internal static class BenchPayload
{
    public const int HeaderBytes = 20;

    public static byte[] Create(int producer, long sequence, int size)
    {
        var body = new byte[size];
        BinaryPrimitives.WriteInt32LittleEndian(body, producer);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(4), sequence);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(12), Stopwatch.GetTimestamp());
        // Filler that differs per message (xorshift), written 8 bytes at a time: the load generator's own cost stays small.
        var state = (ulong)sequence * 0x9E3779B97F4A7C15UL + (ulong)producer + 1;
        var words = MemoryMarshal.Cast<byte, ulong>(body.AsSpan(HeaderBytes));
        for (var i = 0; i < words.Length; i++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            words[i] = state;
        }

        return body;
    }

    public static bool TryRead(byte[] body, out int producer, out long sequence, out long sentAt)
    {
        if (body.Length < HeaderBytes)
        {
            producer = 0;
            sequence = 0;
            sentAt = 0;
            return false;
        }

        producer = BinaryPrimitives.ReadInt32LittleEndian(body);
        sequence = BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(4));
        sentAt = BinaryPrimitives.ReadInt64LittleEndian(body.AsSpan(12));
        return true;
    }
}
