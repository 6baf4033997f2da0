"""tx-extension-hashbank: a hashbank's hash feed for python-threatexchange and HMA.

Add it to the ``threatexchange`` CLI with ``threatexchange config extensions add
tx_extension_hashbank`` (pytx reads the module-level ``TX_MANIFEST``), or list
:class:`HashbankSignalExchangeAPI` in HMA's ``exchange_types``.
"""

from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from tx_extension_hashbank._api import (
    ACTIONABLE,
    FEEDBACK,
    TYPE_NAMES,
    HashbankCheckpoint,
    HashbankCollabConfig,
    HashbankCredentials,
    HashbankSignalExchangeAPI,
    HashbankSignalMetadata,
)
from tx_extension_hashbank._client import HashbankClient, HashbankHTTPError

__all__ = [
    "ACTIONABLE",
    "FEEDBACK",
    "TX_MANIFEST",
    "TYPE_NAMES",
    "HashbankCheckpoint",
    "HashbankClient",
    "HashbankCollabConfig",
    "HashbankCredentials",
    "HashbankHTTPError",
    "HashbankSignalExchangeAPI",
    "HashbankSignalMetadata",
]

TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(HashbankSignalExchangeAPI,))
