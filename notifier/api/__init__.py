"""HTTP surface of the daemon: REST API, alert webhooks, Twilio webhooks, email ack pages, health.

Everything here talks to the engine through `engine_api.EngineAPI`; see `app.create_app`.
"""
