"""Answer: question -> passages -> prompt -> draft -> quote, support, signals -> decision -> `Answer`.

Takes a retriever, a generator and a `Decision`; gives a streamed, checked `Answer` whose
sentences cite the passages that support them, or a refusal with its reason. The readings are
pure functions (`prompting`, `sentences`, `grounding`, `refusal`, `answer_types`, `short_answer`,
`conversation`, `cells`, `formulas`); `pipeline` puts them in order and measures the `Signals`;
`decision` alone decides to answer or refuse; `reader` is an optional span reader that marks the
short answer (`--reader`).
"""
