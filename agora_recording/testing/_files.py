"""What the fake reports about a recording's files: file lists, query's and stop's ``serverResponse``.

Rules 10 and 12 of :mod:`agora_recording.testing._rules`. File names follow Agora's patterns
(``<sid>_<cname>.m3u8``, ``<sid>_<cname>__uid_s_<uid>__uid_e_<track>.m3u8``, ``<sid>_<cname>_0.mp4``);
``sliceStartTime`` is Unix milliseconds derived from the fake's clock. Everything here reads
:class:`~agora_recording.testing._state.RecordingState` and changes nothing but the lazy "first file uploaded"
mark.
"""

from __future__ import annotations

from typing import Any

from agora_recording.testing._state import RUNNING, Recording, RecordingInfo, RecordingState

__all__ = ["Files"]


def _ids(rec: Recording) -> dict[str, Any]:
    return {"cname": rec.cname, "uid": rec.uid, "resourceId": rec.resource_id, "sid": rec.sid}


class Files:
    """File lists and answers, computed from the recording state."""

    __slots__ = ("_state",)

    def __init__(self, state: RecordingState) -> None:
        self._state = state

    def __repr__(self) -> str:
        return "Files()"

    def names(self, rec: Recording, now: float) -> list[str]:
        """The file names a query or stop would list now (empty before the first file and for snapshots)."""
        if rec.mode == "web":
            return [f["filename"] for f in self.web_files(rec)]
        if rec.snapshot or not self._state.has_files(rec, now):
            return []
        base = f"{rec.sid}_{rec.file_cname}"
        if rec.mode == "individual":
            return [entry["fileName"] for entry in self.individual_files(rec)]
        return [f"{base}.m3u8", f"{base}_0.mp4"] if rec.mp4 else [f"{base}.m3u8"]

    def individual_files(self, rec: Recording) -> list[dict[str, Any]]:
        """Individual mode's file list: one HLS playlist per subscribed uid and track."""
        start = self._state.unix_ms(rec.slice_start_at)
        base = f"{rec.sid}_{rec.file_cname}__uid_s_"
        files = []
        for uid in dict.fromkeys([*rec.audio_uids, *rec.video_uids]):
            for track, uids in (("audio", rec.audio_uids), ("video", rec.video_uids)):
                if uid in uids:
                    files.append(
                        {
                            "fileName": f"{base}{uid}__uid_e_{track}.m3u8",
                            "trackType": track,
                            "uid": uid,
                            "mixedAllUser": False,
                            "isPlayable": True,
                            "sliceStartTime": start,
                        }
                    )
        return files

    def json_files(self, rec: Recording) -> list[dict[str, Any]]:
        """The file objects of an individual or mix recording (``fileListMode: "json"``), whatever the mode."""
        if rec.mode == "individual":
            return self.individual_files(rec)
        start = self._state.unix_ms(rec.slice_start_at)
        base = f"{rec.sid}_{rec.file_cname}"
        return [
            {
                "fileName": name,
                "trackType": "audio_and_video",
                "uid": "0",
                "mixedAllUser": True,
                "isPlayable": True,
                "sliceStartTime": start,
            }
            for name in ((f"{base}.m3u8", f"{base}_0.mp4") if rec.mp4 else (f"{base}.m3u8",))
        ]

    def file_fields(self, rec: Recording, now: float) -> dict[str, Any]:
        """``fileListMode``/``fileList`` for individual and mix answers (nothing for snapshots)."""
        if rec.snapshot:
            return {}
        has_files = self._state.has_files(rec, now)
        if rec.mode == "individual":
            return {"fileListMode": "json", "fileList": self.individual_files(rec) if has_files else []}
        if not rec.mp4:
            return {"fileListMode": "string", "fileList": f"{rec.sid}_{rec.file_cname}.m3u8" if has_files else ""}
        return {"fileListMode": "json", "fileList": self.json_files(rec) if has_files else []}

    def web_files(self, rec: Recording) -> list[dict[str, Any]]:
        """Web mode's ``web_recorder_service`` file list."""
        if rec.first_file_at is None:
            return []
        start = self._state.unix_ms(rec.slice_start_at)
        base = f"{rec.sid}_{rec.file_cname}"
        names = [f"{base}.m3u8", f"{base}_0.mp4"] if rec.mp4 else [f"{base}.m3u8"]
        return [{"filename": name, "sliceStartTime": start} for name in names]

    def query_answer(self, rec: Recording, now: float) -> dict[str, Any]:
        """Query's 200 body for a recording that is running or shows status 20."""
        state = self._state
        status = state.status(rec, now)
        assert status is not None
        server: dict[str, Any] = {"status": status}
        if rec.mode == "web":
            state.has_files(rec, now)
            phase = "exit" if rec.phase != RUNNING else ("init" if status < 4 else "inProgress")
            services: list[dict[str, Any]] = [
                {
                    "payload": {"fileList": self.web_files(rec), "onhold": rec.onhold, "state": phase},
                    "serviceName": "web_recorder_service",
                }
            ]
            if rec.has_rtmp:
                if rec.phase != RUNNING:
                    output_status = "disconnected"
                elif status < 4:
                    output_status = "connecting"
                else:
                    output_status = "onhold" if rec.onhold else "publishing"
                outputs = [{"rtmpUrl": url, "status": output_status} for url in rec.rtmp_urls]
                services.append(
                    {"payload": {"outputs": outputs, "state": phase}, "serviceName": "rtmp_publish_service"}
                )
            server["extensionServiceState"] = services
        else:
            server.update(self.file_fields(rec, now))
            server["sliceStartTime"] = state.unix_ms(rec.slice_start_at) if state.has_files(rec, now) else 0
        return {
            "cname": rec.cname,
            "uid": rec.uid,
            "resourceId": rec.resource_id,
            "sid": rec.sid,
            "serverResponse": server,
        }

    def stop_answer(self, rec: Recording, now: float) -> dict[str, Any]:
        """Stop's 200 body for a recording that has just been stopped with files."""
        uploading = self._state.channel(rec.cname).uploading_status
        if rec.mode == "web":
            server: dict[str, Any] = {
                "extensionServiceState": [
                    {"payload": {"uploadingStatus": uploading}, "serviceName": "upload_service"},
                    {
                        "payload": {"fileList": self.web_files(rec), "onhold": rec.onhold, "state": "exit"},
                        "serviceName": "web_recorder_service",
                    },
                ]
            }
        else:
            server = self.file_fields(rec, now)
            server["uploadingStatus"] = uploading
        return {
            "cname": rec.cname,
            "uid": rec.uid,
            "resourceId": rec.resource_id,
            "sid": rec.sid,
            "serverResponse": server,
        }

    def info(self, rec: Recording, now: float) -> RecordingInfo:
        """A :class:`RecordingInfo` snapshot of ``rec`` at ``now``."""
        state = self._state
        state.advance(rec, now)
        return RecordingInfo(
            sid=rec.sid,
            resource_id=rec.resource_id,
            app_id=rec.app_id,
            cname=rec.cname,
            uid=rec.uid,
            mode=rec.mode,
            state=rec.phase,
            status=state.status(rec, now),
            started_at=rec.started_at,
            ended_at=rec.ended_at,
            end_reason=rec.end_reason,
            sid_delivered=rec.sid_delivered,
            has_files=rec.first_file_at is not None or state.has_files(rec, now),
            onhold=rec.onhold,
            snapshot=rec.snapshot,
            file_names=tuple(self.names(rec, now)),
            updates=rec.updates,
            layout_updates=rec.layout_updates,
        )
