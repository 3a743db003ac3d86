using System.Buffers;
using System.IO.Pipelines;
using System.Security.Principal;
using Amqp;
using Amqp.Listener;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>
/// A Kestrel connection, signed in, as AMQP.Net Lite's transport: its read pump reads from the connection's input, its
/// writer (one write at a time) writes to the output. <see cref="Closed"/> completes once the library closes it or the
/// client goes away.
/// </summary>
internal sealed class AmqpPipeTransport(IDuplexPipe pipe, AmqpPrincipal principal) : IAsyncTransport, IAuthenticated
{
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _writing = new();

    public IPrincipal Principal => principal;

    public Task Closed => _closed.Task;

    public void SetConnection(Connection connection)
    {
    }

    public async Task<int> ReceiveAsync(byte[] buffer, int offset, int count)
    {
        try
        {
            var read = await pipe.Input.ReadAsync();
            var available = read.Buffer;
            if (available.IsEmpty)
            {
                pipe.Input.AdvanceTo(available.End);
                _closed.TrySetResult();
                return 0;
            }

            var taken = (int)Math.Min(count, available.Length);
            available.Slice(0, taken).CopyTo(buffer.AsSpan(offset, taken));
            pipe.Input.AdvanceTo(available.GetPosition(taken));
            return taken;
        }
        catch (Exception exception) when (exception is IOException or InvalidOperationException or ObjectDisposedException or OperationCanceledException)
        {
            // The client went away, or the silo is stopping: the library ends the connection on 0 bytes.
            _closed.TrySetResult();
            return 0;
        }
    }

    public async Task SendAsync(IList<ByteBuffer> bufferList, int listSize)
    {
        foreach (var buffer in bufferList)
        {
            pipe.Output.Write(buffer.Buffer.AsSpan(buffer.Offset, buffer.Length));
        }

        var flushed = await pipe.Output.FlushAsync();
        if (flushed.IsCompleted)
        {
            _closed.TrySetResult();
            throw new ObjectDisposedException(nameof(AmqpPipeTransport), "The client closed the connection.");
        }
    }

    public void Send(ByteBuffer buffer)
    {
        // AMQP.Net Lite writes through SendAsync; a synchronous write is kept for its interface and waits for the flush.
        lock (_writing)
        {
            pipe.Output.Write(buffer.Buffer.AsSpan(buffer.Offset, buffer.Length));
            pipe.Output.FlushAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    public int Receive(byte[] buffer, int offset, int count) => ReceiveAsync(buffer, offset, count).GetAwaiter().GetResult();

    public void Close()
    {
        pipe.Input.CancelPendingRead();
        _closed.TrySetResult();
    }
}
