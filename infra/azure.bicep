// Herald in Azure: everything `teamsapp provision --env <env>` creates in one resource group.
// The bot's identity is a user-assigned managed identity (no client secret anywhere); it also reads and writes
// Herald's Table Storage through Entra ID, since the storage account has shared keys disabled.

@maxLength(20)
@minLength(4)
@description('Used to generate names for all resources in this file')
param resourceBaseName string

@description('App Service plan SKU. B1 is the smallest Linux tier with Always On, which a notification bot needs.')
param webAppSKU string = 'B1'

@minValue(1)
@maxValue(30)
@description('Herald instances (the App Service plan\'s capacity). They share the delivery partitions through blob leases; see docs/deploy.md.')
param instanceCount int = 1

@maxLength(42)
@description('Display name of the Azure Bot')
param botDisplayName string

@description('Azure Bot pricing tier. F0 is free and unlimited for the Teams channel (a standard channel).')
@allowed([
  'F0'
  'S1'
])
param botServiceSku string = 'F0'

@secure()
@minLength(16)
@description('Bearer key of Herald\'s HTTP API (HERALD_API_KEY). Comes from SECRET_HERALD_API_KEY.')
param heraldApiKey string

@description('The Teams app id (manifest id), for installing Herald for users through Microsoft Graph.')
param teamsAppId string = ''

@description('Herald\'s id in the org app catalog (written by `teamsapp publish`); enables installs through Graph.')
param teamsAppCatalogId string = ''

// Herald's settings. Each comes from env/.env.<env> through azure.parameters.json (empty = Herald's default, see
// the README's configuration table); `npm run validate` checks them against ENVIRONMENT in src/config.ts.
@description('LOG_LEVEL: trace, debug, info, warn, error or fatal. Empty = info.')
param logLevel string = ''

@description('HERALD_TABLE_PREFIX: prefix of Herald\'s table names. Empty = herald.')
param tablePrefix string = ''

@description('HERALD_DEFAULT_TIMEZONE: IANA zone of recipients whose zone Herald never saw. Empty = UTC.')
param defaultTimeZone string = ''

@description('HERALD_SCHEDULES_FILE: the schedules file, relative to the deployed app (e.g. schedules/production.yaml). Empty = no schedules.')
param schedulesFile string = ''

@description('HERALD_TENANT_RATE: requests per second per tenant Herald allows itself. Empty = 50 (Teams\' limit).')
param tenantRate string = ''

@description('HERALD_GRAPH_TENANT_ID: tenant for Graph installs. Empty = the bot\'s tenant.')
param graphTenantId string = ''

@description('HERALD_GRAPH_CLIENT_ID: an app registration for Graph installs. Empty = the managed identity.')
param graphClientId string = ''

@secure()
@description('HERALD_GRAPH_CLIENT_SECRET: that app registration\'s secret. Comes from SECRET_HERALD_GRAPH_CLIENT_SECRET.')
param graphClientSecret string = ''

@description('HERALD_GRAPH_URL: where Graph requests go (national clouds). Empty = https://graph.microsoft.com.')
param graphUrl string = ''

@secure()
@description('HERALD_API_KEYS: named API keys name:key,name:key (rotate one at a time). Comes from SECRET_HERALD_API_KEYS.')
param apiKeys string = ''

@description('HERALD_API_AUDIENCE: accept Entra ID callers with the app role Notifications.Send for this audience. Empty = API keys only.')
param apiAudience string = ''

@description('HERALD_API_OPENID_METADATA_URL: where Entra ID names its signing keys. Empty = the cloud\'s.')
param apiOpenIdMetadataUrl string = ''

@description('HERALD_API_RATE_LIMIT: POST /api/notifications per caller per minute. Empty = 120.')
param apiRateLimit string = ''

@description('HERALD_ALLOWED_TENANTS: the only tenants whose activities and audiences Herald accepts. Empty = any.')
param allowedTenants string = ''

@description('HERALD_PARTITIONS: delivery partitions (fixed for a store). Empty = Herald\'s default.')
param partitions string = ''

@description('HERALD_LEASE_SECONDS: partition lease duration, 15-60 s. Empty = 15.')
param leaseSeconds string = ''

@description('ChannelService: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botChannelService string = ''

@description('ToBotFromChannelTokenIssuer: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botToBotFromChannelTokenIssuer string = ''

@description('ToBotFromChannelOpenIdMetadataUrl: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botToBotFromChannelOpenIdMetadataUrl string = ''

@description('ToBotFromEmulatorOpenIdMetadataUrl: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botToBotFromEmulatorOpenIdMetadataUrl string = ''

@description('ValidateAuthority: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botValidateAuthority string = ''

@description('ToChannelFromBotLoginUrl: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botToChannelFromBotLoginUrl string = ''

@description('ToChannelFromBotOAuthScope: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botToChannelFromBotOAuthScope string = ''

@description('OAuthUrl: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botOAuthUrl string = ''

@description('CallerId: botbuilder\'s Bot Framework cloud setting. Empty = the public cloud\'s (national clouds: README).')
param botCallerId string = ''

@description('HERALD_GRAPH_INSTALL_RATE: Graph installs (installIfMissing) per second per tenant. Empty = 5.')
param graphInstallRate string = ''

@description('HERALD_RETENTION_DAYS: days a finished notification and its deliveries are kept (0 = forever). Empty = 30.')
param retentionDays string = ''

@description('E-mail address that Herald\'s alerts notify. Empty = alerts fire in the portal only.')
param alertEmail string = ''

@description('Client id of the tab\'s Microsoft Entra app (aadApp/create): Teams SSO tokens are issued for it.')
param aadAppClientId string = ''

@description('Tenant of that Entra app: only its people may sign in to the tab.')
param aadAppTenantId string = tenant().tenantId

@description('Entra object ids or UPNs (comma-separated) who may send from the tab without the Herald.Sender app role.')
param heraldSenders string = ''

param serverfarmsName string = resourceBaseName
param webAppName string = resourceBaseName
param identityName string = resourceBaseName
param storageAccountName string = 'st${uniqueString(resourceGroup().id, resourceBaseName)}'
param location string = resourceGroup().location

// The tables Herald's azure-table store uses (HERALD_TABLE_PREFIX defaults to "herald", as in src/config.ts).
var heraldTablePrefix = empty(tablePrefix) ? 'herald' : tablePrefix
var heraldTables = [
  '${heraldTablePrefix}targets'
  '${heraldTablePrefix}members'
  '${heraldTablePrefix}memberindex'
  '${heraldTablePrefix}jobs'
  '${heraldTablePrefix}deliveries'
  '${heraldTablePrefix}prefs'
  '${heraldTablePrefix}schedules'
  '${heraldTablePrefix}work'
  '${heraldTablePrefix}instances' // the delivery partitions' owners (src/cluster/azure-coordination.ts)
  '${heraldTablePrefix}inbox' // people's received notifications, for the tab
]

// Built-in role "Storage Table Data Contributor": read, write and delete table entities.
var storageTableDataContributorRoleId = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
// Built-in role "Storage Blob Data Contributor": the partition leases are blob leases (container <prefix>-leases).
var storageBlobDataContributorRoleId = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

// The bot's identity: BOT_ID is its client id, and the Web App runs as it.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  location: location
  name: identityName
}

// Herald's data: targets, members, jobs, deliveries, preferences and schedules in Table Storage.
resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false // Entra ID only: Herald authenticates with the managed identity
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in heraldTables: {
    parent: tableService
    name: table
  }
]

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, storageTableDataContributorRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributorRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource blobDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage
  name: guid(storage.id, identity.id, storageBlobDataContributorRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributorRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Logs and telemetry.
resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${resourceBaseName}-logs'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${resourceBaseName}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logAnalytics.id
    DisableLocalAuth: true // telemetry is accepted from Entra ID identities only (Herald's managed identity)
  }
}

// Built-in role "Monitoring Metrics Publisher": lets Herald's identity send telemetry to Application Insights.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, identity.id, monitoringMetricsPublisherRoleId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// The operations workbook and the alert rules (docs/operations.md).
module monitoring './monitoring/monitoring.bicep' = {
  name: 'Herald-monitoring'
  params: {
    resourceBaseName: resourceBaseName
    location: location
    appInsightsId: appInsights.id
    alertEmail: alertEmail
  }
}

// Compute for the Web App: a Linux plan.
resource serverfarm 'Microsoft.Web/serverfarms@2023-12-01' = {
  kind: 'linux'
  location: location
  name: serverfarmsName
  sku: {
    name: webAppSKU
    capacity: instanceCount
  }
  properties: {
    reserved: true // Linux
  }
}

var tableEndpoint = storage.properties.primaryEndpoints.table

// The Web App that runs Herald (bot endpoint, HTTP API and delivery engine in one Node 22 process per instance).
resource webApp 'Microsoft.Web/sites@2023-12-01' = {
  kind: 'app,linux'
  location: location
  name: webAppName
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: serverfarm.id
    httpsOnly: true
    clientAffinityEnabled: false
    // Key Vault references in app settings (e.g. for HERALD_API_KEY) resolve with the bot's identity.
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'NODE|22-lts'
      appCommandLine: 'npm start'
      alwaysOn: true // the delivery engine and schedules run in the background
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      healthCheckPath: '/api/health/ready' // store reachable and delivery engine started
      appSettings: [
        // Every variable Herald reads (ENVIRONMENT in src/config.ts) that belongs in Azure, and nothing else.
        {
          name: 'BOT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'BOT_TYPE'
          value: 'UserAssignedMsi'
        }
        {
          name: 'BOT_TENANT_ID'
          value: identity.properties.tenantId
        }
        {
          name: 'HERALD_API_KEY'
          value: heraldApiKey
        }
        {
          // Table Storage with the managed identity; the endpoint without its trailing slash.
          name: 'HERALD_STORE'
          value: 'azure-table:${endsWith(tableEndpoint, '/') ? substring(tableEndpoint, 0, length(tableEndpoint) - 1) : tableEndpoint}'
        }
        {
          name: 'HERALD_TABLE_PREFIX'
          value: tablePrefix
        }
        {
          // The identity DefaultAzureCredential (Table Storage, Graph) and the telemetry exporter use.
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          name: 'TEAMS_APP_ID'
          value: teamsAppId
        }
        {
          name: 'TEAMS_APP_CATALOG_ID'
          value: teamsAppCatalogId
        }
        {
          name: 'AAD_APP_CLIENT_ID'
          value: aadAppClientId
        }
        {
          name: 'AAD_APP_TENANT_ID'
          value: aadAppTenantId
        }
        {
          // The tab's token audience is api://<this host>/<client id> (aad.manifest.json).
          name: 'BOT_DOMAIN'
          value: '${webAppName}.azurewebsites.net'
        }
        {
          name: 'HERALD_SENDERS'
          value: heraldSenders
        }
        {
          name: 'LOG_LEVEL'
          value: logLevel
        }
        {
          name: 'HERALD_DEFAULT_TIMEZONE'
          value: defaultTimeZone
        }
        {
          name: 'HERALD_SCHEDULES_FILE'
          value: schedulesFile
        }
        {
          name: 'HERALD_TENANT_RATE'
          value: tenantRate
        }
        {
          name: 'HERALD_GRAPH_TENANT_ID'
          value: graphTenantId
        }
        {
          name: 'HERALD_GRAPH_CLIENT_ID'
          value: graphClientId
        }
        {
          name: 'HERALD_GRAPH_CLIENT_SECRET'
          value: graphClientSecret
        }
        {
          name: 'HERALD_GRAPH_URL'
          value: graphUrl
        }
        {
          name: 'HERALD_API_KEYS'
          value: apiKeys
        }
        {
          name: 'HERALD_API_AUDIENCE'
          value: apiAudience
        }
        {
          name: 'HERALD_API_OPENID_METADATA_URL'
          value: apiOpenIdMetadataUrl
        }
        {
          name: 'HERALD_API_RATE_LIMIT'
          value: apiRateLimit
        }
        {
          name: 'HERALD_ALLOWED_TENANTS'
          value: allowedTenants
        }
        {
          name: 'HERALD_PARTITIONS'
          value: partitions
        }
        {
          name: 'HERALD_LEASE_SECONDS'
          value: leaseSeconds
        }
        {
          name: 'ChannelService'
          value: botChannelService
        }
        {
          name: 'ToBotFromChannelTokenIssuer'
          value: botToBotFromChannelTokenIssuer
        }
        {
          name: 'ToBotFromChannelOpenIdMetadataUrl'
          value: botToBotFromChannelOpenIdMetadataUrl
        }
        {
          name: 'ToBotFromEmulatorOpenIdMetadataUrl'
          value: botToBotFromEmulatorOpenIdMetadataUrl
        }
        {
          name: 'ValidateAuthority'
          value: botValidateAuthority
        }
        {
          name: 'ToChannelFromBotLoginUrl'
          value: botToChannelFromBotLoginUrl
        }
        {
          name: 'ToChannelFromBotOAuthScope'
          value: botToChannelFromBotOAuthScope
        }
        {
          name: 'OAuthUrl'
          value: botOAuthUrl
        }
        {
          name: 'CallerId'
          value: botCallerId
        }
        {
          name: 'HERALD_GRAPH_INSTALL_RATE'
          value: graphInstallRate
        }
        {
          name: 'HERALD_RETENTION_DAYS'
          value: retentionDays
        }
        {
          // Herald exports traces and metrics itself (OpenTelemetry, src/telemetry/), signed in as the identity.
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        // App Service's own settings.
        {
          name: 'WEBSITE_RUN_FROM_PACKAGE'
          value: '1' // run from the deployed zip, read-only: nothing is ever written to the app's disk
        }
        {
          name: 'SCM_DO_BUILD_DURING_DEPLOYMENT'
          value: 'false' // `teamsapp deploy` uploads the built app with its node_modules
        }
      ]
    }
  }
  dependsOn: [
    tables
    tableDataContributor
    blobDataContributor
    telemetryPublisher
  ]
}

// Register the Web App as a bot with the Bot Framework, and connect it to Teams.
module azureBotRegistration './botRegistration/azurebot.bicep' = {
  name: 'Azure-Bot-registration'
  params: {
    resourceBaseName: resourceBaseName
    botServiceSku: botServiceSku
    identityClientId: identity.properties.clientId
    identityResourceId: identity.id
    identityTenantId: identity.properties.tenantId
    botAppDomain: webApp.properties.defaultHostName
    botDisplayName: botDisplayName
  }
}

// The outputs are written to env/.env.<env>. Visit https://aka.ms/teamsfx-actions/arm-deploy for details.
output BOT_ID string = identity.properties.clientId
output BOT_TENANT_ID string = identity.properties.tenantId
output BOT_DOMAIN string = webApp.properties.defaultHostName
output BOT_ENDPOINT string = 'https://${webApp.properties.defaultHostName}'
output BOT_AZURE_APP_SERVICE_RESOURCE_ID string = webApp.id
output STORAGE_TABLE_ENDPOINT string = tableEndpoint
