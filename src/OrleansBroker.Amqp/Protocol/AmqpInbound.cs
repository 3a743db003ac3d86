using System.Threading.Channels;
using Amqp;
using Amqp.Framing;
using Amqp.Listener;
using OrleansBroker.Errors;
using OrleansBroker.Messages;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>
/// A link a client sends on, to a queue or a topic. The library hands over each message as it arrives; one loop stores them
/// in batches (the next batch collects while one is stored, so many transfers in flight share one commit) and settles
/// each, in order, once durable: accepted; released when a topic had no subscription for it (nothing stored, as RabbitMQ
/// does); rejected with an error condition when it is bad or the broker refused it. Credit comes back as messages settle,
/// so at most <c>LinkCredit</c> wait at once.
/// </summary>
internal sealed class AmqpInbound(AmqpEdge edge, ListenerLink link, AmqpAddress address, string node, string principal)
{
    /// <summary>Most messages stored with one call.</summary>
    private const int MaxBatch = 500;

    private readonly Channel<(Message Amqp, BrokerMessage Broker)> _pending =
        Channel.CreateUnbounded<(Message, BrokerMessage)>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });

    /// <summary>Gives the link its credit and starts storing what arrives; ends when the link closes.</summary>
    public void Start()
    {
        link.InitializeReceiver((uint)edge.Options.LinkCredit, OnMessage, this);
        link.AddClosedCallback((_, _) => _pending.Writer.TryComplete());
        _ = RunAsync();
    }

    private void OnMessage(ListenerLink receiver, Message message, DeliveryState state, object context)
    {
        BrokerMessage converted;
        try
        {
            converted = AmqpMessages.ToBroker(message, edge.MaxMessageBytes);
        }
        catch (BrokerException exception)
        {
            Settle(message, AmqpErrors.Rejected(exception));
            return;
        }

        if (!_pending.Writer.TryWrite((message, converted)))
        {
            // The link is closing: the client sends again what it did not see settled.
            Settle(message, new Released());
        }
    }

    private async Task RunAsync()
    {
        var reader = _pending.Reader;
        var batch = new List<(Message Amqp, BrokerMessage Broker)>();
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            var messages = batch.ConvertAll(b => b.Broker);
            try
            {
                if (address.Kind == AmqpNodeKind.Queue)
                {
                    await edge.Client.PublishBatchAsync(node, messages);
                    foreach (var (message, _) in batch)
                    {
                        Settle(message, new Accepted());
                    }
                }
                else
                {
                    var receipts = await edge.Client.PublishBatchToTopicAsync(node, messages);
                    for (var i = 0; i < batch.Count; i++)
                    {
                        Settle(batch[i].Amqp, receipts[i].Subscriptions.Count > 0 ? new Accepted() : new Released());
                    }
                }

                edge.Metrics.Received(batch.Count);
            }
            catch (Exception exception)
            {
                AmqpLog.PublishFailed(edge.Logger, exception, principal, batch.Count, address.ToString());
                var outcome = AmqpErrors.Rejected(exception);
                foreach (var (message, _) in batch)
                {
                    Settle(message, outcome);
                }
            }
        }
    }

    private void Settle(Message message, Outcome outcome)
    {
        try
        {
            link.DisposeMessage(message, outcome, true);
        }
        catch (Exception exception) when (exception is AmqpException or ObjectDisposedException or InvalidOperationException)
        {
            // The link or connection closed meanwhile: the client sends again what it did not see settled.
        }
    }
}
