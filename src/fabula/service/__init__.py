"""The service floor: the one place that orchestrates what a surface asks for.

The CLI, the HTTP API, batch jobs and the studio parse their input into the values declared here
(`WriteJob`, a plan to start or resume, a live session), call one function, and render what comes
back. Engine choice, a user's voice, review and save, exports and their manifests, melodies, the
export gate, plans' set-up and streams' memory all happen here, once, so the same request gives
the same work and the same provenance whatever surface it came through.

What may import what: surfaces import `service`; `service` imports the pipeline, plans, streams,
personalization, forms, engines and the store; nothing below imports `service`.
"""
