namespace OrleansBroker.Server.Topics;

/// <summary>
/// A topic's persisted state, written one write at a time (its grain is reentrant, and two writes under way at once would
/// conflict on the ETag). Counters and retained marks change with every publish and are stored by <see cref="FlushAsync"/>
/// on a timer, not per publish.
/// </summary>
internal sealed class TopicStateStore(IPersistentState<TopicState> state)
{
    private readonly SemaphoreSlim _writing = new(1, 1);

    public TopicState State => state.State;

    /// <summary>Set when counters or marks changed since they were last stored.</summary>
    public bool Dirty { get; set; }

    public async Task WriteAsync(CancellationToken cancellationToken = default)
    {
        await _writing.WaitAsync(cancellationToken);
        try
        {
            await state.WriteStateAsync(cancellationToken);
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Deletes the state; the topic is as if never created.</summary>
    public async Task ClearAsync()
    {
        await _writing.WaitAsync();
        try
        {
            await state.ClearStateAsync();
            state.State = new TopicState();
            Dirty = false;
        }
        finally
        {
            _writing.Release();
        }
    }

    /// <summary>Stores changed counters and marks; a failed write leaves them to the next flush (and throws).</summary>
    public async Task FlushAsync(CancellationToken cancellationToken)
    {
        if (!Dirty || !state.State.Created)
        {
            return;
        }

        Dirty = false;
        try
        {
            await WriteAsync(cancellationToken);
        }
        catch (Exception)
        {
            Dirty = true;
            throw;
        }
    }
}
