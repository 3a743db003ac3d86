namespace OrleansBroker.Server.Log;

/// <summary>One named record of a log as Orleans grain storage sees it: the state plus its ETag.</summary>
internal sealed class StoredRecord<T> : IGrainState<T>
    where T : class, new()
{
    private T _state = new();

    [System.Diagnostics.CodeAnalysis.AllowNull]
    public T State
    {
        get => _state;
        set => _state = value ?? new T();
    }

    public string? ETag { get; set; }

    public bool RecordExists { get; set; }
}
