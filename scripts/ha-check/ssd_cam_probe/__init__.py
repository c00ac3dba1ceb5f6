"""Test-only Home Assistant component for scripts/ha-check.sh: writes what
Home Assistant knows (its device and entity registries, every state, every
state change) to files in the config folder, and carries out service calls
the script drops in as files, so that the script needs no login."""

import asyncio
import json
import os

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

DOMAIN = "ssd_cam_probe"


async def async_setup(hass: HomeAssistant, config) -> bool:
    folder = hass.config.path("probe")

    def open_changes():
        os.makedirs(folder, exist_ok=True)
        return open(os.path.join(folder, "changes.jsonl"), "a", buffering=1)

    # Files are written off the event loop, as Home Assistant asks.
    changes = await hass.async_add_executor_job(open_changes)

    @callback
    def changed(event):
        new = event.data.get("new_state")
        changes.write(json.dumps({
            "entity_id": event.data.get("entity_id"),
            "state": new.state if new else None,
            "time": event.time_fired.timestamp(),
        }) + "\n")

    hass.bus.async_listen("state_changed", changed)

    def snapshot() -> str:
        devices = [
            {"id": d.id, "identifiers": sorted([list(i) for i in d.identifiers]), "name": d.name,
             "manufacturer": d.manufacturer, "model": d.model, "sw_version": d.sw_version,
             "configuration_url": d.configuration_url}
            for d in dr.async_get(hass).devices.values()
        ]
        entities = [
            {"entity_id": e.entity_id, "platform": e.platform, "unique_id": e.unique_id,
             "device_id": e.device_id, "domain": e.domain, "entity_category": str(e.entity_category) if e.entity_category else None,
             "original_device_class": e.original_device_class}
            for e in er.async_get(hass).entities.values()
        ]
        states = {s.entity_id: {"state": s.state, "attributes": {k: str(v) for k, v in s.attributes.items()}}
                  for s in hass.states.async_all()}
        mqtt_entries = [{"state": str(e.state), "data": {k: v for k, v in e.data.items() if k != "password"}}
                        for e in hass.config_entries.async_entries("mqtt")]
        return json.dumps({"devices": devices, "entities": entities, "states": states, "mqtt": mqtt_entries})

    def write_and_take_calls(text: str) -> list:
        tmp = os.path.join(folder, ".dump.json")
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, os.path.join(folder, "dump.json"))
        calls = []
        for name in sorted(n for n in os.listdir(folder) if n.startswith("call-") and n.endswith(".json")):
            path = os.path.join(folder, name)
            with open(path) as f:
                calls.append(json.load(f))
            os.remove(path)
        return calls

    async def loop() -> None:
        while True:
            calls = await hass.async_add_executor_job(write_and_take_calls, snapshot())
            for call in calls:
                await hass.services.async_call(call["domain"], call["service"], call.get("data", {}), blocking=True)
            await asyncio.sleep(0.5)

    hass.async_create_background_task(loop(), "ssd_cam_probe")
    return True
