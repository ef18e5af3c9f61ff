"""Answer: question -> passages -> prompt -> draft -> quote, support, refusal -> `Answer`.

Takes a retriever and a generator; gives a streamed, checked `Answer` whose sentences cite
the passages that support them, or a refusal with its reason. The decisions are pure
functions (`prompting`, `sentences`, `grounding`, `refusal`, `answer_types`,
`conversation`); `pipeline` puts them in order.
"""
