"""One console's connection: the client core and one client per service, built together.

No behaviour here: `Session` only builds the clients on one core and keeps the flat names the
console's older callers use (the workspace, `vigie wall`, the benchmarks and tests), so each
points at the one client that does the work. New code reaches the clients: `session.assets`,
`session.alarms`, `session.commands`, `session.video`, `session.map`, `session.audit`,
`session.walls`, `session.incidents`, `session.units`, `session.modes`, `session.cardholders`, and `session.core` for the login and the connection."""

from __future__ import annotations

from vigie.app.auth import Credentials, TlsOptions
from vigie.app.client.alarms import AlarmsClient
from vigie.app.client.assets import AssetsClient
from vigie.app.client.audit import AuditClient
from vigie.app.client.cardholders import CardholdersClient
from vigie.app.client.commands import CommandsClient
from vigie.app.client.core import ClientCore
from vigie.app.client.diagnostics import DiagnosticsClient
from vigie.app.client.incidents import IncidentsClient
from vigie.app.client.map import MapClient
from vigie.app.client.modes import ModesClient
from vigie.app.client.playback import PlaybackClient
from vigie.app.client.transit import TransitClient
from vigie.app.client.units import UnitsClient
from vigie.app.client.video import VideoClient
from vigie.app.client.views import ViewsClient
from vigie.app.client.walls import WallsClient
from vigie.app.models.active_modes import ActiveModesStore


class Session:
    def __init__(
        self,
        address: str,
        flush_interval: float = 0.05,
        stale_after: float = 15.0,
        credentials: Credentials | None = None,
        tls: TlsOptions | None = None,
    ) -> None:
        self.core = core = ClientCore(address, credentials, tls, stale_after)
        self.assets = AssetsClient(core, flush_interval)
        self.alarms = AlarmsClient(core, flush_interval)
        self.commands = CommandsClient(core)
        self.video = VideoClient(core)
        self.map = MapClient(core)
        self.audit = AuditClient(core)
        self.walls = WallsClient(core)
        self.views = ViewsClient(core)
        self.incidents = IncidentsClient(core, flush_interval)
        self.units = UnitsClient(core, flush_interval)
        self.modes = ModesClient(core)
        self.diagnostics = DiagnosticsClient(core)
        self.transit = TransitClient(core)
        self.playback = PlaybackClient(core)
        self.active_modes = ActiveModesStore(self.modes)  # GUI side: the banners read it
        self.cardholders = CardholdersClient(core)

        # The flat names (see the module doc).
        self.start, self.stop, self.login, self.may = core.start, core.stop, core.login, core.may
        self.submit = core.submit
        self.set_seat = core.set_seat
        self.sig_connection, self.sig_error = core.sig_connection, core.sig_error
        self.sig_logged_in, self.sig_login_required = core.sig_logged_in, core.sig_login_required
        self.sig_snapshot, self.sig_changes = self.assets.sig_snapshot, self.assets.sig_changes
        self.sig_alarm_result = self.alarms.sig_result
        self.acknowledge = self.alarms.acknowledge
        self.sig_command, self.execute = self.commands.sig_command, self.commands.execute
        self.sig_ptz_result = self.video.sig_ptz_result
        self.open_video, self.close_video = self.video.open_video, self.video.close_video
        self.attach_wall, self.detach_wall = self.walls.attach, self.walls.detach

    @property
    def address(self) -> str:
        return self.core.address

    @property
    def credentials(self) -> Credentials | None:
        return self.core.credentials

    @property
    def user(self) -> str:
        return self.core.user

    @property
    def role(self) -> str:
        return self.core.role

    @property
    def state(self) -> str:
        return self.core.state

    @property
    def revision(self) -> int:
        return self.assets.revision

    @property
    def reconnects(self) -> int:
        return self.assets.reconnects
