"""Starting and stopping iceoryx's RouDi daemon around the iceoryx cases."""

import os
import shutil
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, "..", "peers", "iceoryx_roudi.toml")


class Roudi:
    def __init__(self, log_path):
        self.log_path = log_path
        self.process = None

    def available(self):
        return shutil.which("iox-roudi") is not None

    def start(self):
        if self.process is not None:
            return
        if subprocess.run(["pgrep", "-x", "iox-roudi"], capture_output=True).returncode == 0:
            raise SystemExit("sweep: another iox-roudi is running; stop it first")
        log = open(self.log_path, "a")
        self.process = subprocess.Popen(["iox-roudi", "-c", CONFIG], stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            with open(self.log_path) as f:
                if "RouDi is ready for clients" in f.read():
                    return
            if self.process.poll() is not None:
                raise SystemExit(f"sweep: iox-roudi exited; see {self.log_path}")
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"sweep: iox-roudi did not become ready; see {self.log_path}")

    def stop(self):
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
