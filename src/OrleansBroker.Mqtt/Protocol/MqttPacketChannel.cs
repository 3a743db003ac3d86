using System.Buffers;
using System.IO.Pipelines;
using MQTTnet.Adapter;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Packets;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>A packet larger than the listener takes (MQTT 5 reason Packet too large).</summary>
internal sealed class MqttPacketTooLargeException(long size, int limit)
    : Exception($"An MQTT packet of {size} bytes is over the limit of {limit} bytes.");

/// <summary>
/// MQTT packets over a connection's pipes, with MQTTnet's formatters (3.1, 3.1.1 and 5, told apart by the CONNECT packet).
/// Reading checks a packet's length against the limit before waiting for its body, so an oversize packet is refused from
/// its header. Sent packets are queued and written by one loop, flushed together, so a burst of acknowledgements or
/// deliveries costs one write.
/// </summary>
internal sealed class MqttPacketChannel
{
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly int _maxPacketBytes;
    private readonly MqttPacketFormatterAdapter _formatter = new(new MqttBufferWriter(4096, 64 * 1024));
    private readonly System.Threading.Channels.Channel<MqttPacket> _outbound =
        System.Threading.Channels.Channel.CreateUnbounded<MqttPacket>(new() { SingleReader = true });

    public MqttPacketChannel(IDuplexPipe transport, int maxPacketBytes)
    {
        _input = transport.Input;
        _output = transport.Output;
        _maxPacketBytes = maxPacketBytes;
    }

    /// <summary>The protocol version, known once the CONNECT packet is read.</summary>
    public MqttProtocolVersion Version => _formatter.ProtocolVersion;

    /// <summary>Reads the next packet; null when the client closed the connection between packets.</summary>
    public async ValueTask<MqttPacket?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await _input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryParse(ref buffer, out var packet))
            {
                _input.AdvanceTo(buffer.Start);
                return packet;
            }

            if (result.IsCompleted || result.IsCanceled)
            {
                _input.AdvanceTo(buffer.End);
                return buffer.IsEmpty ? null : throw new MqttProtocolViolationException("The connection ended inside a packet.");
            }

            _input.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    /// <summary>Queues <paramref name="packet"/> for the write loop.</summary>
    public void Send(MqttPacket packet) => _outbound.Writer.TryWrite(packet);

    /// <summary>Ends the write loop once what is queued is written.</summary>
    public void Complete() => _outbound.Writer.TryComplete();

    /// <summary>Writes queued packets until <see cref="Complete"/> (or the connection fails), flushing after each burst.</summary>
    public async Task WriteLoopAsync(CancellationToken cancellationToken)
    {
        var reader = _outbound.Reader;
        while (await reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
        {
            while (reader.TryRead(out var packet))
            {
                Write(packet);
            }

            var flushed = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
            if (flushed.IsCompleted || flushed.IsCanceled)
            {
                return;
            }
        }
    }

    private void Write(MqttPacket packet)
    {
        try
        {
            var encoded = _formatter.Encode(packet);
            var span = _output.GetSpan(encoded.Length);
            encoded.Packet.AsSpan().CopyTo(span);
            encoded.Payload.CopyTo(span[encoded.Packet.Count..]);
            _output.Advance(encoded.Length);
        }
        finally
        {
            _formatter.Cleanup();
        }
    }

    private bool TryParse(ref ReadOnlySequence<byte> buffer, out MqttPacket? packet)
    {
        packet = null;
        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out var fixedHeader))
        {
            return false;
        }

        // Remaining length: a variable byte integer of at most four bytes.
        var length = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (shift > 21)
            {
                throw new MqttProtocolViolationException("The remaining length of a packet is longer than four bytes.");
            }

            if (!reader.TryRead(out var digit))
            {
                return false;
            }

            length |= (digit & 0x7F) << shift;
            if ((digit & 0x80) == 0)
            {
                break;
            }
        }

        var headerBytes = (int)reader.Consumed;
        if (length + headerBytes > _maxPacketBytes)
        {
            throw new MqttPacketTooLargeException(length + headerBytes, _maxPacketBytes);
        }

        if (reader.Remaining < length)
        {
            return false;
        }

        var body = new byte[length];
        reader.UnreadSequence.Slice(0, length).CopyTo(body);
        reader.Advance(length);
        buffer = buffer.Slice(reader.Position);
        var received = new ReceivedMqttPacket(fixedHeader, new ArraySegment<byte>(body), headerBytes + length);
        if (_formatter.ProtocolVersion == MqttProtocolVersion.Unknown)
        {
            if (fixedHeader >> 4 != 1)
            {
                throw new MqttProtocolViolationException("The first packet of a connection must be CONNECT.");
            }

            _formatter.DetectProtocolVersion(received);
        }

        packet = _formatter.Decode(received);
        return true;
    }
}
